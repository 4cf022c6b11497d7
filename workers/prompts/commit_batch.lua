-- Add one batch's sample results to an agent type's totals, exactly once.
-- KEYS[1] stats hash, KEYS[2] set of agent types with prompt data
-- ARGV[1] cursor the batch started from, ARGV[2] new cursor (last sequence processed),
-- ARGV[3] prompts optimized, ARGV[4] tokens saved, ARGV[5] cost saved in nano-USD,
-- ARGV[6] prompts whose model has no known price, ARGV[7] agent type, ARGV[8] time
-- Returns 1 if applied, 0 if another run already moved the cursor.
local cursor = tonumber(redis.call('HGET', KEYS[1], 'cursor') or '0')
if cursor ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'cursor', ARGV[2], 'updated_at', ARGV[8])
redis.call('HINCRBY', KEYS[1], 'prompts_optimized', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'tokens_saved', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'cost_saved_nano_usd', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'unpriced_prompts', ARGV[6])
redis.call('SADD', KEYS[2], ARGV[7])
return 1
