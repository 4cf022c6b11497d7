-- Append one prompt to an agent type's bounded sample of recent prompts.
-- KEYS[1] sequence counter, KEYS[2] list of recent prompts (newest first)
-- ARGV[1] JSON object without its sequence number, ARGV[2] how many entries to keep
-- Returns the sequence number given to the prompt.
local seq = redis.call('INCR', KEYS[1])
local entry = '{"seq":' .. seq .. ',' .. string.sub(ARGV[1], 2)
redis.call('LPUSH', KEYS[2], entry)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
return seq
