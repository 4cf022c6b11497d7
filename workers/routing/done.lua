-- A routed task finished: one less in flight on its delivery queue, and the latency sample
-- updates the queue's peak EWMA. A failure counts as at least twice the current estimate,
-- so a target that fails fast does not look fast.
-- ARGV: queue, latency ms ('' = the task never ran: no sample, no count), ok ('1' | '0'),
-- now ms ('' = server time). Returns in flight.
local q = ARGV[1]
if ARGV[2] == '' then return adjust(q, -1, clock(ARGV[4])) end
local sample = math.max(tonumber(ARGV[2]) or 0, 0)
local ok = ARGV[3] == '1'
local now = clock(ARGV[4])
local t = TP .. q
local f = redis.call('HMGET', t, 'g', 'e0', 't0', 'done')
if f[1] then
  local e0 = num(f[2], sample)
  if not ok then sample = math.max(sample, 2 * e0) end
  local e = sample
  if num(f[4], 0) > 0 and sample < e0 then
    local w = math.exp(-(now - num(f[3], now)) / meta(f[1]).tau)
    e = e0 * w + sample * (1 - w)
  end
  redis.call('HSET', t, 'e0', e, 't0', now)
  redis.call('HINCRBY', t, 'done', 1)
  if not ok then redis.call('HINCRBY', t, 'failed', 1) end
end
return adjust(q, -1, now)
