-- round_robin: the live target picked longest ago (ties by name), i.e. a, b, c, a, b, c.
-- A joining target queues behind the last pick; a leaving one just drops out of the cycle.
local NAME = 'round_robin'
local INDEX = nil
local RANDOM = false

local function pick(g, now)
  local q = redis.call('ZRANGE', g .. ':rr', 0, 0)[1]
  if not q then return nil end
  redis.call('ZADD', g .. ':rr', redis.call('HINCRBY', g .. ':meta', 'rr', 1), q)
  return q
end

-- count picks cycle through the count targets at the front of the queue.
local function pick_many(g, now, count)
  local front = redis.call('ZRANGE', g .. ':rr', 0, count - 1)
  local m = #front
  if m == 0 then return {} end
  local seq = num(redis.call('HGET', g .. ':meta', 'rr'), 0)
  local out, last = {}, {}
  for k = 1, count do
    local q = front[((k - 1) % m) + 1]
    out[k] = q
    last[q] = seq + k
  end
  redis.call('HSET', g .. ':meta', 'rr', seq + count)
  local args = {}
  for q, s in pairs(last) do
    args[#args + 1] = s
    args[#args + 1] = q
  end
  redis.call('ZADD', g .. ':rr', unpack(args))
  return out
end
