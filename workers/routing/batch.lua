-- Batches (decision scripts only, after common.lua): a strategy's pick_many(g, now, count)
-- makes count picks from one read of its index, replaying locally exactly what count single
-- picks would do; decide.lua then writes the counters and indexes once per target picked.

-- Byte-order ranks of queue names, read back from a scratch sorted set (equal scores sort
-- by bytes), so local replays break ties exactly like the indexes do, at C speed.
local function name_ranks(g, names)
  local scratch = g .. ':scratch'
  local args = {}
  for _, q in ipairs(names) do
    args[#args + 1] = 0
    args[#args + 1] = q
  end
  redis.call('ZADD', scratch, unpack(args))
  local rank = {}
  for i, q in ipairs(redis.call('ZRANGE', scratch, 0, -1)) do rank[q] = i end
  redis.call('DEL', scratch)
  return rank
end

-- Entries {s = score, o = name rank}, ordered by score then name (the sorted-set order).
local function lighter(a, b)
  return a.s < b.s or (a.s == b.s and a.o < b.o)
end

local function sift_down(heap, i)
  local n = #heap
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= n and lighter(heap[l], heap[m]) then m = l end
    if r <= n and lighter(heap[r], heap[m]) then m = r end
    if m == i then return end
    heap[i], heap[m] = heap[m], heap[i]
    i = m
  end
end

-- count picks of the lowest score in index `which` ('lc', 'rt', 'res'), each pick raising
-- the winner's in-flight count by one. Only the count lowest entries can win count picks.
local function cheapest_batch(g, which, count, now)
  local top = redis.call('ZRANGE', g .. ':' .. which, 0, count - 1, 'WITHSCORES')
  if #top == 0 then return {} end
  local heap, names = {}, {}
  for i = 1, #top, 2 do
    names[#names + 1] = top[i]
    heap[#heap + 1] = {s = tonumber(top[i + 1]), q = top[i]}
  end
  local loads = redis.call('HMGET', INFLIGHT, unpack(names))
  local rank = name_ranks(g, names)
  for i, e in ipairs(heap) do
    e.p = num(loads[i], 0)
    e.o = rank[e.q]
  end
  local out = {}
  for k = 1, count do
    local e = heap[1]
    out[k] = e.q
    e.p = e.p + 1
    if e.f == nil then e.f = index_fields(e.q) end
    e.s = score(g, which, e.f, e.p, now)
    sift_down(heap, 1)
  end
  return out
end
