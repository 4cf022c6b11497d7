-- The single-target path: count `count` new tasks in flight on one queue and hand back
-- `back` unused reservations, in one call. No choice to make, so no strategy runs.
-- KEYS[4] group. ARGV: queue, count, back, now ms ('' = server time), stats name.
local g, q = KEYS[4], ARGV[1]
local count, back = tonumber(ARGV[2]), tonumber(ARGV[3])
local now = clock(ARGV[4])
adjust(q, count - back, now)
redis.call('HINCRBY', g .. ':stats', ARGV[5] .. ':decisions', count - back)
if redis.call('EXISTS', TP .. q) == 1 then
  redis.call('HINCRBY', TP .. q, 'decisions', count - back)
end
if count > 0 then
  redis.call('HSET', g .. ':stats', ARGV[5] .. ':last', q, ARGV[5] .. ':last_ms', now,
    'pick:' .. q, now)
end
return 1
