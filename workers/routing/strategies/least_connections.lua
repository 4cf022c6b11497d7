-- least_connections: the live target with the lowest in flight / capacity (ties by name).
local NAME = 'least_connections'
local INDEX = 'lc'
local RANDOM = false

local function pick(g, now)
  return redis.call('ZRANGE', g .. ':lc', 0, 0)[1]
end

local function pick_many(g, now, count)
  return cheapest_batch(g, INDEX, count, now)
end
