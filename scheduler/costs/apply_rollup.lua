-- Deduplicate a batch of task ids and add its rollup increments, atomically.
-- KEYS[1] seen set of today, KEYS[2] seen set of yesterday, KEYS[3..] rollup hashes.
-- ARGV[1] seen ttl (s), ARGV[2] n ids, then the ids, then for each rollup hash:
--   ttl (s), n pairs, field, delta, field, delta, ...
-- Returns the ids already seen (nothing applied) or an empty array (all applied).
local CHUNK = 500  -- stays far below Lua's unpack limit
local n = tonumber(ARGV[2])
local ids_end = 2 + n

if n > 0 then
  local present = {}
  for start = 3, ids_end, CHUNK do
    local stop = math.min(start + CHUNK - 1, ids_end)
    local a = redis.call('SMISMEMBER', KEYS[1], unpack(ARGV, start, stop))
    local b = redis.call('SMISMEMBER', KEYS[2], unpack(ARGV, start, stop))
    for i = 1, #a do
      if a[i] == 1 or b[i] == 1 then present[#present + 1] = ARGV[start + i - 1] end
    end
  end
  if #present > 0 then return present end
  for start = 3, ids_end, CHUNK do
    redis.call('SADD', KEYS[1], unpack(ARGV, start, math.min(start + CHUNK - 1, ids_end)))
  end
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end

local pos = ids_end + 1
for k = 3, #KEYS do
  local ttl = ARGV[pos]
  local pairs_n = tonumber(ARGV[pos + 1])
  pos = pos + 2
  for _ = 1, pairs_n do
    redis.call('HINCRBY', KEYS[k], ARGV[pos], ARGV[pos + 1])
    pos = pos + 2
  end
  redis.call('EXPIRE', KEYS[k], ttl)
end
return {}
