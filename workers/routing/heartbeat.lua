-- An instance beat: refresh its direct-queue target and its membership of the pool target.
-- KEYS[4] heartbeat hash, KEYS[5] instance group, KEYS[6] pool group.
-- ARGV: instance, direct queue, pool queue, agent type, pool, host, pid, concurrency,
--       cpu %, memory %, state ('active' | 'draining'), now ms ('' = server time),
--       TTL ms to assume when the heartbeat hash has none.
-- The deadline is now + the heartbeat's remaining TTL, so the target expires with it.
-- An instance marked draining stays out while its pid is the one that was drained.
local hb, gi, gp = KEYS[4], KEYS[5], KEYS[6]
local inst, dq, pq = ARGV[1], ARGV[2], ARGV[3]
local pid = ARGV[7]
local now = clock(ARGV[12])
local ttl = redis.call('PTTL', hb)
if ttl <= 0 then ttl = tonumber(ARGV[13]) end
local deadline = now + ttl

local t = TP .. dq
local drained = redis.call('HGET', t, 'drained_pid')
if drained and drained ~= pid then
  redis.call('HDEL', t, 'drained_pid')
  drained = false
end
local out = nil
if ARGV[11] == 'draining' or drained then out = 'draining' end

redis.call('HSET', t, 'type', ARGV[4], 'level', 'instance', 'pool', ARGV[5], 'instance', inst,
  'host', ARGV[6], 'pid', pid, 'cap', ARGV[8], 'cpu', ARGV[9], 'mem', ARGV[10])
place(gi, dq, deadline, out, now)

redis.call('HSET', TP .. pq, 'type', ARGV[4], 'level', 'pool', 'pool', ARGV[5])
if out then
  redis.call('ZREM', TP .. pq .. ':m', inst)
  redis.call('HDEL', TP .. pq .. ':mi', inst)
else
  redis.call('ZADD', TP .. pq .. ':m', deadline, inst)
  redis.call('HSET', TP .. pq .. ':mi', inst, ARGV[8] .. ' ' .. ARGV[9] .. ' ' .. ARGV[10])
end
pool_refresh(gp, pq, now)
if out then return 0 end
return 1
