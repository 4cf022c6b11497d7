-- Delete statistics rows only if unchanged since the job read them (a new read keeps them).
-- KEYS[1] = frequency hash; ARGV = field, value as read, field, value as read, ...
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    removed = removed + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return removed
