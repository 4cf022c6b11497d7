-- Move one value from the warm to the cold tier, only if it is unchanged since it was read
-- (a concurrent write wins). KEYS: warm key, cold key, cold index.
-- ARGV: the warm bytes as read, the compressed bytes, cold TTL (s), now (s), cache key.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
redis.call('DEL', KEYS[1])
return 1
