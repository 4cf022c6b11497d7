-- Count provisioned time of live instances since they were last counted, once.
-- KEYS[1] accounted hash (instance -> epoch s), KEYS[2] hour hash, KEYS[3] day hash.
-- ARGV[1] now (s), ARGV[2] longest gap counted (s), ARGV[3] hour ttl, ARGV[4] day ttl,
-- then per instance: name, pool id, concurrency.
-- A second run at the same moment adds nothing; a gap longer than ARGV[2] (the job did not
-- run, or the instance was gone) counts only up to ARGV[2].
local now = tonumber(ARGV[1])
local max_gap = tonumber(ARGV[2])
for i = 5, #ARGV, 3 do
  local name, pool, conc = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local last = tonumber(redis.call('HGET', KEYS[1], name) or '')
  if last and now > last then
    local ms = math.floor(math.min(now - last, max_gap) * 1000)
    if ms > 0 then
      for k = 2, 3 do
        redis.call('HINCRBY', KEYS[k], pool .. '|instance_ms', ms)
        redis.call('HINCRBY', KEYS[k], pool .. '|slot_ms', ms * conc)
      end
    end
  end
  if not last or now > last then redis.call('HSET', KEYS[1], name, ARGV[1]) end
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[4])
return 1
