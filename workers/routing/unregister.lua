-- Take a target out of its group for good; reconcile later moves any messages left in a
-- direct queue to its pool queue. KEYS[4] group. ARGV: queue, now ms ('' = server time).
local g, q = KEYS[4], ARGV[1]
local now = clock(ARGV[2])
if redis.call('SISMEMBER', g .. ':known', q) == 0 then return 0 end
leave(g, q, 'gone', now)
redis.call('HSET', TP .. q, 'gone_ms', now, 'deadline', now)
return 1
