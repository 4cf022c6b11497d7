-- Reserve the estimated cost of a call against every budget scope, or refuse it, atomically.
-- KEYS[1] spent hash of this month, KEYS[2] reserved hash, KEYS[3] reservations hash,
-- KEYS[3 + i] the monthly rollup hash of scope i (its rolled-up spend).
-- ARGV[1] now (ms), ARGV[2] reservation id, ARGV[3] amount (pico), ARGV[4] expiry (ms),
-- ARGV[5] forget expired after (ms), ARGV[6] n scopes, then per scope: scope, hard limit
-- (pico, -1 = no hard limit), field prefix in the rollup hash.
-- Spend of a scope is the larger of the settled calls and the rolled-up events (both count
-- the same money; either may be ahead). Returns {1} when reserved, or
-- {0, scope, spent, reserved} naming the budget that refuses.
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
  local scope = ARGV[7 + 3 * i]
  local limit = tonumber(ARGV[8 + 3 * i])
  local prefix = ARGV[9 + 3 * i]
  scopes[#scopes + 1] = scope
  if limit >= 0 then
    local settled = tonumber(redis.call('HGET', KEYS[1], scope) or '0')
    local rolled = tonumber(redis.call('HGET', KEYS[4 + i], prefix .. 'llm_pico') or '0')
      + tonumber(redis.call('HGET', KEYS[4 + i], prefix .. 'compute_pico') or '0')
    local spent = math.max(settled, rolled)
    local reserved = tonumber(redis.call('HGET', KEYS[2], scope) or '0')
    if spent + reserved >= limit or spent + reserved + amount > limit then
      return {0, scope, string.format('%.0f', spent), string.format('%.0f', reserved)}
    end
  end
end
for _, scope in ipairs(scopes) do
  redis.call('HINCRBY', KEYS[2], scope, ARGV[3])
end
redis.call('HSET', KEYS[3], ARGV[2],
  ARGV[4] .. '|' .. ARGV[3] .. '|' .. table.concat(scopes, ',') .. '|live')
return {1}
