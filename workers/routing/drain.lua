-- Mark an instance draining: it leaves the instance group and its pool target at once and
-- stays out on later beats until a new process (another pid) takes the name.
-- KEYS[4] instance group, KEYS[5] pool group. ARGV: instance, direct queue, pool queue, now.
local gi, gp = KEYS[4], KEYS[5]
local inst, dq, pq = ARGV[1], ARGV[2], ARGV[3]
local now = clock(ARGV[4])
local t = TP .. dq
redis.call('HSET', t, 'drained_pid', redis.call('HGET', t, 'pid') or '')
place(gi, dq, num(redis.call('HGET', t, 'deadline'), now), 'draining', now)
redis.call('ZREM', TP .. pq .. ':m', inst)
redis.call('HDEL', TP .. pq .. ':mi', inst)
pool_refresh(gp, pq, now)
return 1
