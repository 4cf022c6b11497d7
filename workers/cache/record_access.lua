-- Add read counts to decayed counters, halving each one for every decay period it missed.
-- KEYS[1] = frequency hash; ARGV[1] = current epoch; ARGV[2..] = key, count, key, count, ...
-- Each field holds "<count>:<epoch of last update>".
local hash = KEYS[1]
local epoch = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  local field = ARGV[i]
  local add = tonumber(ARGV[i + 1])
  local count = 0
  local current = redis.call('HGET', hash, field)
  if current then
    local sep = string.find(current, ':', 1, true)
    count = tonumber(string.sub(current, 1, sep - 1)) or 0
    local last = tonumber(string.sub(current, sep + 1)) or epoch
    if last < epoch then
      count = math.floor(count / 2 ^ math.min(epoch - last, 62))
    end
  end
  redis.call('HSET', hash, field, (count + add) .. ':' .. epoch)
end
return #ARGV - 1
