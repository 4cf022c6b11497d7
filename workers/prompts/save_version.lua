-- Store a new optimized template version unless the newest one has the same fingerprint.
-- KEYS[1] hash of the newest version, KEYS[2] list of versions (newest first),
-- KEYS[3] set of agent types with prompt data
-- ARGV[1] fingerprint (source, model and optimizer revision), ARGV[2] JSON object without
-- its version number, ARGV[3] versions to keep, ARGV[4] agent type
-- Returns {version, 1 if created else 0}.
if redis.call('HGET', KEYS[1], 'fingerprint') == ARGV[1] then
  return {tonumber(redis.call('HGET', KEYS[1], 'version')), 0}
end
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
local doc = '{"version":' .. version .. ',' .. string.sub(ARGV[2], 2)
redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'doc', doc)
redis.call('LPUSH', KEYS[2], doc)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
redis.call('SADD', KEYS[3], ARGV[4])
return {version, 1}
