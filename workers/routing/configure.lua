-- Write a group's settings (latency decay, resource step, initial latency estimate, pool
-- weights) and, when any changed, re-index its live targets under the new values.
-- KEYS[4] group. ARGV: tau ms, step, initial estimate ms, now ms ('' = server time), then
-- pairs pool, weight ('' = none: capacity is the weight).
local g = KEYS[4]
local now = clock(ARGV[4])
local mkey = g .. ':meta'
local old = redis.call('HMGET', mkey, 'tau_ms', 'step', 'rtt0')
local changed = false
if old[1] ~= ARGV[1] or old[2] ~= ARGV[2] or old[3] ~= ARGV[3] then
  redis.call('HSET', mkey, 'tau_ms', ARGV[1], 'step', ARGV[2], 'rtt0', ARGV[3])
  changed = true
end
for i = 5, #ARGV, 2 do
  local field, w = 'w:' .. ARGV[i], ARGV[i + 1]
  local cur = redis.call('HGET', mkey, field)
  if w == '' then
    if cur then
      redis.call('HDEL', mkey, field)
      changed = true
    end
  elseif cur ~= w then
    redis.call('HSET', mkey, field, w)
    changed = true
  end
end
redis.call('SADD', GROUPS, g)
if not changed then return 0 end
META[g] = nil
local alive = redis.call('ZRANGE', g .. ':alive', 0, -1, 'WITHSCORES')
for i = 1, #alive, 2 do refresh(g, alive[i], tonumber(alive[i + 1]), now) end
return 1
