-- p2c: power of two random choices on in flight / capacity. Two distinct live targets are
-- drawn at random (seeded per call by the caller) and the less loaded one wins; on a tie
-- the first draw wins, which keeps the choice uniform among equals.
local NAME = 'p2c'
local INDEX = 'lc'
local RANDOM = true

local function pick(g, now)
  local key = g .. ':lc'
  local n = redis.call('ZCARD', key)
  if n == 0 then return nil end
  if n == 1 then return redis.call('ZRANGE', key, 0, 0)[1] end
  local i = math.random(n) - 1
  local j = math.random(n - 1) - 1
  if j >= i then j = j + 1 end
  local a = redis.call('ZRANGE', key, i, i, 'WITHSCORES')
  local b = redis.call('ZRANGE', key, j, j, 'WITHSCORES')
  if tonumber(b[2]) < tonumber(a[2]) then return b[1] end
  return a[1]
end

-- The same draws over one read of every live target's load.
local function pick_many(g, now, count)
  local all = redis.call('ZRANGE', g .. ':lc', 0, -1, 'WITHSCORES')
  local n = #all / 2
  if n == 0 then return {} end
  local t = {}
  for i = 1, n do t[i] = {q = all[2 * i - 1], s = tonumber(all[2 * i])} end
  local out = {}
  for k = 1, count do
    local e = t[1]
    if n > 1 then
      local i = math.random(n)
      local j = math.random(n - 1)
      if j >= i then j = j + 1 end
      e = t[i]
      if t[j].s < e.s then e = t[j] end
    end
    out[k] = e.q
    if e.p == nil then
      e.p = inflight(e.q)
      e.f = index_fields(e.q)
    end
    e.p = e.p + 1
    e.s = score(g, 'lc', e.f, e.p, now)
  end
  return out
end
