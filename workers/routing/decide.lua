-- One routing decision (or a batch of `count` decisions made one after another), atomic.
-- Appended after common.lua and one strategy file, which defines NAME, INDEX (the index its
-- pick reads, or nil), RANDOM (whether it draws random numbers), pick(g, now) and
-- pick_many(g, now, count).
--
-- KEYS[4] group prefix.
-- ARGV: count, now ms ('' = server time), random seed, affinity key ('' = none), bounded-load
--       factor, fallback queue, number of fallback reservations handed back, then pairs
--       queue, number of unused regular reservations handed back.
-- Returns {status, affinity outcome, pick...}: status 'ok' or 'fallback' (no live target:
-- every pick is the fallback queue); affinity '' (no key), 'hit', 'spill' (owner over its
-- bound, the strategy chose) or 'none' (no live target on the ring).
local g = KEYS[4]
local count = tonumber(ARGV[1])
local now = clock(ARGV[2])
if RANDOM then math.randomseed(tonumber(ARGV[3])) end
local key = ARGV[4]
local factor = tonumber(ARGV[5])
local fallback = ARGV[6]
local fallback_back = tonumber(ARGV[7])
local stats = g .. ':stats'

if fallback_back > 0 then
  adjust(fallback, -fallback_back, now)
  redis.call('HINCRBY', stats, 'fallback', -fallback_back)
end
if #ARGV > 7 then
  local back = 0
  for i = 8, #ARGV, 2 do
    local q, n = ARGV[i], tonumber(ARGV[i + 1])
    adjust(q, -n, now)
    if redis.call('EXISTS', TP .. q) == 1 then redis.call('HINCRBY', TP .. q, 'decisions', -n) end
    back = back + n
  end
  redis.call('HINCRBY', stats, NAME .. ':decisions', -back)
end

expire(g, now, 16)
if INDEX ~= nil then use_index(g, INDEX, now) end

-- Consistent hashing with bounded loads: the key's owner on the ring of live targets,
-- unless taking one more task would put it above factor x its capacity share of the load.
local function affine()
  local h = hash32(key)
  local r = redis.call('ZRANGE', g .. ':ring', h, '+inf', 'BYSCORE', 'LIMIT', 0, 1)[1]
  if not r then r = redis.call('ZRANGE', g .. ':ring', 0, 0)[1] end
  if not r then return nil, 'none' end
  local owner = string.match(r, '^(.*)#%d+$')
  local sums = redis.call('HMGET', g .. ':meta', 'sum_p', 'sum_cap')
  local cap = num(redis.call('HGET', TP .. owner, 'cap'), 1)
  local bound = math.ceil(factor * (num(sums[1], 0) + 1) * cap / math.max(num(sums[2], 1), 1))
  if inflight(owner) + 1 <= bound then return owner, 'hit' end
  return nil, 'spill'
end

-- A batch without a key is replayed by the strategy from one read of its index; single
-- picks (and keyed ones) update the count and the index they read after every pick.
local picks, counted = {}, {}
local aff = ''
if key == '' and count > 1 then
  picks = pick_many(g, now, count)
else
  local fields = {}
  for k = 1, count do
    local q = nil
    if key ~= '' then q, aff = affine() end
    if q == nil then q = pick(g, now) end
    if q == nil then break end
    picks[#picks + 1] = q
    local p = redis.call('HINCRBY', INFLIGHT, q, 1)
    counted[q] = p
    if INDEX ~= nil and k < count then  -- the last pick is re-indexed in full below
      if fields[q] == nil then fields[q] = index_fields(q) end
      redis.call('ZADD', g .. ':' .. INDEX, score(g, INDEX, fields[q], p, now), q)
    end
  end
end

if count > 0 and #picks == 0 then
  adjust(fallback, count, now)
  redis.call('HINCRBY', stats, 'fallback', count)
  local out = {'fallback', aff}
  for _ = 1, count do out[#out + 1] = fallback end
  return out
end

local tally = {}
for _, q in ipairs(picks) do tally[q] = (tally[q] or 0) + 1 end
local last = {NAME .. ':last', picks[#picks], NAME .. ':last_ms', now}
for q, n in pairs(tally) do
  local p = counted[q]
  if p == nil then p = redis.call('HINCRBY', INFLIGHT, q, n) end
  reindex(g, q, p, now)
  redis.call('HINCRBY', TP .. q, 'decisions', n)
  last[#last + 1] = 'pick:' .. q
  last[#last + 1] = now
end
if #picks > 0 then
  redis.call('HINCRBY', g .. ':meta', 'sum_p', #picks)
  redis.call('HINCRBY', stats, NAME .. ':decisions', #picks)
  redis.call('HSET', stats, unpack(last))
  if aff ~= '' then redis.call('HINCRBY', stats, 'affinity:' .. aff, 1) end
end
local out = {'ok', aff}
for _, q in ipairs(picks) do out[#out + 1] = q end
return out
