-- response_time: the live target with the lowest peak EWMA latency x (1 + in flight /
-- capacity), Finagle/Linkerd style. The estimate jumps up to a slower sample at once, falls
-- with time constant tau on faster ones, and decays toward zero while a target is idle, so
-- a target that was slow is tried again once its estimate has faded.
local NAME = 'response_time'
local INDEX = 'rt'
local RANDOM = false

local function pick(g, now)
  return redis.call('ZRANGE', g .. ':rt', 0, 0)[1]
end

local function pick_many(g, now, count)
  return cheapest_batch(g, INDEX, count, now)
end
