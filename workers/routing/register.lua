-- Register (or refresh) a target by hand, e.g. an instance that runs outside this system.
-- KEYS[4] group. ARGV: queue, agent type, level, pool, instance, capacity, weight ('' =
-- none), TTL ms ('' = until unregistered), cpu %, memory %, now ms ('' = server time).
local g, q = KEYS[4], ARGV[1]
local now = clock(ARGV[11])
local t = TP .. q
redis.call('HSET', t, 'type', ARGV[2], 'level', ARGV[3], 'pool', ARGV[4], 'instance', ARGV[5],
  'cap', ARGV[6], 'cpu', ARGV[9], 'mem', ARGV[10], 'manual', 1)
if ARGV[7] ~= '' then redis.call('HSET', t, 'wset', ARGV[7]) else redis.call('HDEL', t, 'wset') end
redis.call('HDEL', t, 'drained_pid')
local deadline = math.huge
if ARGV[8] ~= '' then deadline = now + tonumber(ARGV[8]) end
place(g, q, deadline, nil, now)
return 1
