-- Delete the lock only if it still holds our token: a run that outlived its lock must not
-- release the lock a later run has taken.
-- KEYS[1] lock key; ARGV[1] token. Returns 1 if released, 0 if not ours.
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
