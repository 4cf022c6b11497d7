-- Apply in-flight corrections found by reconcile (never below 0), re-indexing live targets.
-- ARGV: now ms ('' = server time), then pairs queue, delta. Returns the new counts.
local now = clock(ARGV[1])
local out = {}
for i = 2, #ARGV, 2 do out[#out + 1] = adjust(ARGV[i], tonumber(ARGV[i + 1]), now) end
return out
