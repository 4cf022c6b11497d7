-- weighted_round_robin: NGINX's smooth weighted round robin. Each round every live target's
-- current weight grows by its weight, the largest current wins (ties by name) and drops by
-- the total; weights {5, 1, 1} give a, a, b, a, c, a, a. Targets are kept per weight class
-- (see common.lua), so a pick reads one entry per distinct weight, not every target.
local NAME = 'weighted_round_robin'
local INDEX = nil
local RANDOM = false

local function pick(g, now)
  local classes = redis.call('ZRANGE', g .. ':wrrw', 0, -1, 'WITHSCORES')
  if #classes == 0 then return nil end
  local round = redis.call('HINCRBY', g .. ':meta', 'round', 1)
  local best, best_cur, best_class, total = nil, nil, nil, 0
  for i = 1, #classes, 2 do
    local k, w = classes[i], tonumber(classes[i])
    total = total + w * tonumber(classes[i + 1])
    local top = redis.call('ZRANGE', g .. ':wrr:' .. k, 0, 0, 'WITHSCORES')
    if top[1] then
      local cur = round * w - tonumber(top[2])
      if best == nil or cur > best_cur or (cur == best_cur and before(top[1], best)) then
        best, best_cur, best_class = top[1], cur, k
      end
    end
  end
  if best ~= nil then redis.call('ZINCRBY', g .. ':wrr:' .. best_class, total, best) end
  return best
end

-- The same rounds replayed on the first count members of each weight class (only they can
-- reach the head of their class within count rounds).
local function pick_many(g, now, count)
  local classes = redis.call('ZRANGE', g .. ':wrrw', 0, -1, 'WITHSCORES')
  if #classes == 0 then return {} end
  local round = num(redis.call('HGET', g .. ':meta', 'round'), 0)
  local lists, names, total = {}, {}, 0
  for i = 1, #classes, 2 do
    local k, w = classes[i], tonumber(classes[i])
    total = total + w * tonumber(classes[i + 1])
    local top = redis.call('ZRANGE', g .. ':wrr:' .. k, 0, count - 1, 'WITHSCORES')
    local list = {}
    for j = 1, #top, 2 do
      list[#list + 1] = {q = top[j], s = tonumber(top[j + 1])}
      names[#names + 1] = top[j]
    end
    lists[#lists + 1] = {k = k, w = w, list = list}
  end
  local rank = name_ranks(g, names)
  for _, c in ipairs(lists) do
    for _, e in ipairs(c.list) do e.o = rank[e.q] end
  end
  local out, moved = {}, {}
  for n = 1, count do
    round = round + 1
    local bc, be, best_cur = nil, nil, nil
    for _, c in ipairs(lists) do
      local e = c.list[1]
      if e then
        local cur = round * c.w - e.s
        if be == nil or cur > best_cur or (cur == best_cur and e.o < be.o) then
          bc, be, best_cur = c, e, cur
        end
      end
    end
    out[n] = be.q
    table.remove(bc.list, 1)
    be.s = be.s + total
    local pos = #bc.list + 1
    for i, other in ipairs(bc.list) do
      if lighter(be, other) then
        pos = i
        break
      end
    end
    table.insert(bc.list, pos, be)
    moved[be.q] = bc.k
  end
  redis.call('HSET', g .. ':meta', 'round', round)
  for _, c in ipairs(lists) do
    for _, e in ipairs(c.list) do
      if moved[e.q] then redis.call('ZADD', g .. ':wrr:' .. c.k, e.s, e.q) end
    end
  end
  return out
end
