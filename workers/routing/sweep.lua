-- Reconcile one group: drop every expired target and recount the group's running sums
-- (in flight and capacity of live targets) from the targets themselves.
-- KEYS[4] group. ARGV: now ms ('' = server time). Returns the queues that expired.
local g = KEYS[4]
local now = clock(ARGV[1])
local gone = expire(g, now, -1)
local sum_p, sum_cap = 0, 0
for _, q in ipairs(redis.call('ZRANGE', g .. ':alive', 0, -1)) do
  sum_p = sum_p + inflight(q)
  sum_cap = sum_cap + num(redis.call('HGET', TP .. q, 'jcap'), 0)
end
redis.call('HSET', g .. ':meta', 'sum_p', sum_p, 'sum_cap', sum_cap)
return gone
