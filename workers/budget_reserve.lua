-- Reserve the estimated cost of a call against every budget scope, or refuse it, atomically.
-- KEYS[1] spent hash of this month, KEYS[2] reserved hash, KEYS[3] reservations hash.
-- ARGV[1] now (ms), ARGV[2] reservation id, ARGV[3] amount (pico), ARGV[4] expiry (ms),
-- ARGV[5] forget expired after (ms), ARGV[6] n scopes, then per scope: scope, hard limit
-- (pico, -1 = no hard limit).
-- Returns {1} when reserved, or {0, scope, spent, reserved} naming the budget that refuses.
local now = tonumber(ARGV[1])
local forget = tonumber(ARGV[5])

-- Release reservations whose call never reconciled (a worker died mid-call).
local all = redis.call('HGETALL', KEYS[3])
for i = 1, #all, 2 do
  local expiry, amount, scopes, state = string.match(all[i + 1], '^(%d+)|(%d+)|([^|]*)|(%a+)$')
  if expiry and tonumber(expiry) < now then
    if state == 'live' then
      for scope in string.gmatch(scopes, '[^,]+') do
        if amount ~= '0' then redis.call('HINCRBY', KEYS[2], scope, '-' .. amount) end
      end
      redis.call('HSET', KEYS[3], all[i], expiry .. '|' .. amount .. '|' .. scopes .. '|expired')
    elseif tonumber(expiry) + forget < now then
      redis.call('HDEL', KEYS[3], all[i])
    end
  end
end

local amount = tonumber(ARGV[3])
local n = tonumber(ARGV[6])
local scopes = {}
for i = 0, n - 1 do
  local scope = ARGV[7 + 2 * i]
  local limit = tonumber(ARGV[8 + 2 * i])
  scopes[#scopes + 1] = scope
  if limit >= 0 then
    local spent = redis.call('HGET', KEYS[1], scope) or '0'
    local reserved = redis.call('HGET', KEYS[2], scope) or '0'
    local used = tonumber(spent) + tonumber(reserved)
    if used >= limit or used + amount > limit then
      return {0, scope, spent, reserved}
    end
  end
end
for _, scope in ipairs(scopes) do
  redis.call('HINCRBY', KEYS[2], scope, ARGV[3])
end
redis.call('HSET', KEYS[3], ARGV[2],
  ARGV[4] .. '|' .. ARGV[3] .. '|' .. table.concat(scopes, ',') .. '|live')
return {1}
