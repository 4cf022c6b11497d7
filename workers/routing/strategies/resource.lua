-- resource: the live target with the lowest max(CPU %, memory %) from its heartbeats, in
-- steps of g:meta 'step' points; in flight / capacity breaks ties inside a step, then name.
local NAME = 'resource'
local INDEX = 'res'
local RANDOM = false

local function pick(g, now)
  return redis.call('ZRANGE', g .. ':res', 0, 0)[1]
end

local function pick_many(g, now, count)
  return cheapest_batch(g, INDEX, count, now)
end
