-- Shared by every routing script (prepended to each): target state and group indexes.
--
-- KEYS[1] in-flight hash (queue -> count), KEYS[2] target hash prefix, KEYS[3] set of groups.
--
-- A target is a queue with the hash TP .. queue. Its group (prefix g, field 'g') holds:
--   g:alive    zset queue -> deadline ms      live, non-draining targets only
--   g:known    set of every queue ever seen in the group
--   g:lc       zset queue -> in flight / capacity                  least_connections, p2c
--   g:rt       zset queue -> ln(peak EWMA) + t0/tau + ln(1 + load)  response_time
--   g:res      zset queue -> usage step * 1e6 + load                resource
--   g:rr       zset queue -> sequence number of its last pick       round_robin
--   g:wrr:<w>  zset queue -> T*w - current weight, one per weight    weighted_round_robin
--   g:wrrw     zset weight class -> live targets in it
--   g:ring     zset 'queue#i' -> 32-bit hash                        affinity
--   g:stats    hash per-strategy decisions and last pick, per-target last pick ('pick:'
--              queue), fallbacks, affinity outcomes
--   g:meta     hash tau_ms, step, rtt0, ix, w:<pool>, rr, round, sum_p, sum_cap
-- Every index in use holds exactly the members of g:alive: join() and leave() keep it so,
-- and every counter change goes through adjust() or decide.lua, which re-index at once.
--
-- The response_time key drops the -now/tau term shared by every target: the decayed
-- estimate e0 * exp(-(now - t0) / tau) orders the same as e0 * exp(t0 / tau), so the index
-- stays exact as time passes without being rewritten.

local INFLIGHT = KEYS[1]
local TP = KEYS[2]
local GROUPS = KEYS[3]
-- Virtual nodes per target on the affinity ring: shares within about 6 % of fair.
local VNODES = 256
-- Loads above this are clamped so the resource score keeps its step in the high digits.
local LOAD_CAP = 999999

local function num(v, default)
  local n = tonumber(v)
  if n == nil then return default end
  return n
end

-- Milliseconds: the caller's clock when given (tests, reconcile), else the server's.
local function clock(override)
  if override ~= nil and override ~= '' then return tonumber(override) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end

local META = {}
local function meta(g)
  local m = META[g]
  if m == nil then
    local v = redis.call('HMGET', g .. ':meta', 'tau_ms', 'step', 'rtt0', 'ix')
    m = {tau = num(v[1], 10000), step = num(v[2], 10), rtt0 = num(v[3], 500), ix = {}}
    for which in string.gmatch(v[4] or '', '[^,]+') do m.ix[#m.ix + 1] = which end
    META[g] = m
  end
  return m
end

local function inflight(q)
  return num(redis.call('HGET', INFLIGHT, q), 0)
end

local function is_alive(g, q)
  return redis.call('ZSCORE', g .. ':alive', q) ~= false
end

local function wkey(w)
  return string.format('%.10g', w)
end

local function hash32(s)
  return tonumber(string.sub(redis.sha1hex(s), 1, 8), 16)
end

-- Byte order, as a sorted set orders equal-score members (Lua's < follows the locale).
local function before(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local function estimate(e0, t0, now, tau)
  return e0 * math.exp(-(now - t0) / tau)
end

-- Score of a target in index `which` ('lc', 'rt' or 'res') from its fields
-- {cap, cpu, mem, e0, t0} and in-flight count p.
local function score(g, which, f, p, now)
  local cap = num(f[1], 1)
  if cap <= 0 then cap = 1 end
  local load = math.min(p / cap, LOAD_CAP)
  if which == 'lc' then return load end
  local m = meta(g)
  if which == 'rt' then
    return math.log(math.max(num(f[4], m.rtt0), 0.001)) + num(f[5], now) / m.tau
      + math.log(1 + load)
  end
  return math.floor(math.max(num(f[2], 0), num(f[3], 0)) / m.step) * 1e6 + load
end

local function index_fields(q)
  return redis.call('HMGET', TP .. q, 'cap', 'cpu', 'mem', 'e0', 't0')
end

-- Only the load indexes some strategy of the group has used are kept ('ix' in g:meta); the
-- first decision that needs another one builds it (use_index) and it is kept from then on.
local function reindex(g, q, p, now)
  local ix = meta(g).ix
  if #ix == 0 then return end
  local f = index_fields(q)
  for _, which in ipairs(ix) do
    redis.call('ZADD', g .. ':' .. which, score(g, which, f, p, now), q)
  end
end

local function use_index(g, which, now)
  local m = meta(g)
  for _, have in ipairs(m.ix) do
    if have == which then return end
  end
  m.ix[#m.ix + 1] = which
  redis.call('HSET', g .. ':meta', 'ix', table.concat(m.ix, ','))
  for _, q in ipairs(redis.call('ZRANGE', g .. ':alive', 0, -1)) do
    redis.call('ZADD', g .. ':' .. which, score(g, which, index_fields(q), inflight(q), now), q)
  end
end

-- Configured weight of the target, else its pool's (g:meta w:<pool>), else its capacity.
local function weight_of(g, q)
  local f = redis.call('HMGET', TP .. q, 'wset', 'pool', 'cap')
  local w = tonumber(f[1])
  if w == nil and f[2] then w = tonumber(redis.call('HGET', g .. ':meta', 'w:' .. f[2])) end
  if w == nil or w <= 0 then w = num(f[3], 1) end
  return w
end

-- Smooth WRR with offsets: current = T*w - score, so a round (T += 1) adds w to every
-- target without rewriting any of them; a joining target starts at current weight 0.
local function wrr_join(g, q, w)
  local round = num(redis.call('HGET', g .. ':meta', 'round'), 0)
  local k = wkey(w)
  redis.call('ZADD', g .. ':wrr:' .. k, round * w, q)
  redis.call('ZINCRBY', g .. ':wrrw', 1, k)
  redis.call('HSET', TP .. q, 'wjoined', k)
end

local function wrr_leave(g, q, k)
  if not k then return end
  if redis.call('ZREM', g .. ':wrr:' .. k, q) == 1 then
    if tonumber(redis.call('ZINCRBY', g .. ':wrrw', -1, k)) <= 0 then
      redis.call('ZREM', g .. ':wrrw', k)
    end
  end
  redis.call('HDEL', TP .. q, 'wjoined')
end

local function ring_join(g, q)
  local args = {}
  for i = 1, VNODES do
    local member = q .. '#' .. i
    args[#args + 1] = hash32(member)
    args[#args + 1] = member
  end
  redis.call('ZADD', g .. ':ring', unpack(args))
end

local function ring_leave(g, q)
  local members = {}
  for i = 1, VNODES do members[i] = q .. '#' .. i end
  redis.call('ZREM', g .. ':ring', unpack(members))
end

-- A new target's latency estimate: the mean of live peers that have finished tasks, else
-- the configured initial estimate, so a newcomer neither herds work nor starves.
local function seed_estimate(g, q, now)
  if redis.call('HEXISTS', TP .. q, 'e0') == 1 then return end
  local m = meta(g)
  local sum, n = 0, 0
  for _, o in ipairs(redis.call('ZRANGE', g .. ':alive', 0, 31)) do
    local f = redis.call('HMGET', TP .. o, 'e0', 't0', 'done')
    if num(f[3], 0) > 0 then
      sum = sum + estimate(num(f[1], m.rtt0), num(f[2], now), now, m.tau)
      n = n + 1
    end
  end
  local e0 = m.rtt0
  if n > 0 then e0 = sum / n end
  redis.call('HSET', TP .. q, 'e0', e0, 't0', now)
end

local function join(g, q, deadline, now)
  local p = inflight(q)
  local cap = math.floor(num(redis.call('HGET', TP .. q, 'cap'), 1))
  seed_estimate(g, q, now)
  redis.call('ZADD', g .. ':alive', deadline, q)
  reindex(g, q, p, now)
  redis.call('ZADD', g .. ':rr', num(redis.call('HGET', g .. ':meta', 'rr'), 0), q)
  wrr_join(g, q, weight_of(g, q))
  ring_join(g, q)
  redis.call('HINCRBY', g .. ':meta', 'sum_p', p)
  redis.call('HINCRBY', g .. ':meta', 'sum_cap', cap)
  redis.call('HSET', TP .. q, 'jcap', cap, 'state', 'active')
end

local function leave(g, q, state, now)
  if redis.call('ZREM', g .. ':alive', q) == 0 then
    redis.call('HSET', TP .. q, 'state', state)
    return false
  end
  redis.call('ZREM', g .. ':rr', q)
  for _, which in ipairs(meta(g).ix) do redis.call('ZREM', g .. ':' .. which, q) end
  wrr_leave(g, q, redis.call('HGET', TP .. q, 'wjoined'))
  ring_leave(g, q)
  redis.call('HINCRBY', g .. ':meta', 'sum_p', 0 - inflight(q))
  redis.call('HINCRBY', g .. ':meta', 'sum_cap', 0 - num(redis.call('HGET', TP .. q, 'jcap'), 0))
  redis.call('HSET', TP .. q, 'state', state, 'gone_ms', now)
  return true
end

-- A live target beat again: new deadline, capacity, weight class and index entries.
local function refresh(g, q, deadline, now)
  redis.call('ZADD', g .. ':alive', deadline, q)
  local f = redis.call('HMGET', TP .. q, 'cap', 'jcap', 'wjoined')
  local cap = math.floor(num(f[1], 1))
  local jcap = num(f[2], cap)
  if cap ~= jcap then
    redis.call('HINCRBY', g .. ':meta', 'sum_cap', cap - jcap)
    redis.call('HSET', TP .. q, 'jcap', cap)
  end
  local w = weight_of(g, q)
  if wkey(w) ~= f[3] then
    wrr_leave(g, q, f[3])
    wrr_join(g, q, w)
  end
  reindex(g, q, inflight(q), now)
end

-- Put a target in (or take it out of) its group. out: nil, or the state it leaves with.
local function place(g, q, deadline, out, now)
  redis.call('SADD', GROUPS, g)
  redis.call('SADD', g .. ':known', q)
  redis.call('HSET', TP .. q, 'g', g, 'deadline', deadline)
  if out == nil and deadline <= now then out = 'expired' end
  if out ~= nil then
    leave(g, q, out, now)
  elseif is_alive(g, q) then
    refresh(g, q, deadline, now)
  else
    join(g, q, deadline, now)
  end
end

-- Change a target's in-flight count (never below 0) and keep its group's view in step.
local function adjust(q, delta, now)
  local p = inflight(q)
  local np = p + delta
  if np < 0 then np = 0 end
  if np ~= p then
    if np == 0 then redis.call('HDEL', INFLIGHT, q) else redis.call('HSET', INFLIGHT, q, np) end
  end
  local g = redis.call('HGET', TP .. q, 'g')
  if g and is_alive(g, q) then
    if np ~= p then redis.call('HINCRBY', g .. ':meta', 'sum_p', np - p) end
    reindex(g, q, np, now)
  end
  return np
end

local function expire(g, now, limit)
  local gone = redis.call('ZRANGE', g .. ':alive', '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
  for _, q in ipairs(gone) do leave(g, q, 'expired', now) end
  return gone
end

-- Re-aggregate a pool target from its live member instances (capacity sum, mean usage,
-- latest deadline); with no live member the pool target leaves its group.
local function pool_refresh(gp, pq, now)
  local m, mi = TP .. pq .. ':m', TP .. pq .. ':mi'
  local dead = redis.call('ZRANGE', m, '-inf', now, 'BYSCORE')
  if #dead > 0 then
    redis.call('ZREM', m, unpack(dead))
    redis.call('HDEL', mi, unpack(dead))
  end
  local live = redis.call('ZRANGE', m, 0, -1, 'WITHSCORES')
  local cap, cpu, mem, n, deadline = 0, 0, 0, 0, 0
  for i = 1, #live, 2 do
    local c, u, r = string.match(redis.call('HGET', mi, live[i]) or '', '^(%S+) (%S+) (%S+)$')
    cap = cap + num(c, 1)
    cpu = cpu + num(u, 0)
    mem = mem + num(r, 0)
    n = n + 1
    deadline = math.max(deadline, tonumber(live[i + 1]))
  end
  if n == 0 then
    redis.call('HSET', TP .. pq, 'instances', 0)
    place(gp, pq, now, 'idle', now)
  else
    redis.call('HSET', TP .. pq, 'cap', cap, 'cpu', cpu / n, 'mem', mem / n, 'instances', n)
    place(gp, pq, deadline, nil, now)
  end
end
