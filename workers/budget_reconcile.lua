-- Settle a reservation with the call's actual cost, once.
-- KEYS[1] spent hash of this month, KEYS[2] reserved hash, KEYS[3] reservations hash.
-- ARGV[1] reservation id, ARGV[2] actual cost (pico), ARGV[3] ttl of the spent hash (s).
-- Returns 1 when settled, 0 when this reservation was already settled.
local entry = redis.call('HGET', KEYS[3], ARGV[1])
if not entry then return 0 end
local _, amount, scopes, state = string.match(entry, '^(%d+)|(%d+)|([^|]*)|(%a+)$')
redis.call('HDEL', KEYS[3], ARGV[1])
local actual = tonumber(ARGV[2])
for scope in string.gmatch(scopes, '[^,]+') do
  if state == 'live' and amount ~= '0' then
    redis.call('HINCRBY', KEYS[2], scope, '-' .. amount)
  end
  if actual > 0 then
    redis.call('HINCRBY', KEYS[1], scope, ARGV[2])
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
