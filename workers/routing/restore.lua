-- Give back the messages a vanished instance had taken from its direct queue and not
-- acknowledged (it was killed mid-task): they sit in kombu's ``unacked`` hash until the
-- broker's visibility timeout, minutes away. Only that instance consumed its direct queue,
-- so every unacked entry addressed to it is its own. Each entry is removed from the unacked
-- hash and index and pushed to the pool queue's consuming end in the same script, re-addressed
-- like move.lua does, so it is neither lost nor delivered twice by a later kombu restore.
-- KEYS[4] unacked hash, KEYS[5] unacked index, KEYS[6 .. 5+n] the pool queue's priority
-- lists (steps ascending). ARGV: source queue, destination queue, n, steps..., now ms.
local src, dst, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = clock(ARGV[4 + n])
local pattern = '"' .. string.gsub(src, '%p', '%%%0') .. '"'
local repl = '"' .. string.gsub(dst, '%%', '%%%%') .. '"'
local entries = redis.call('HGETALL', KEYS[4])
local restored = 0
for i = 1, #entries, 2 do
  local tag, raw = entries[i], entries[i + 1]
  local ok, entry = pcall(cjson.decode, raw)
  if ok and type(entry) == 'table' and entry[3] == src then
    local message = entry[1]
    local pri = 0
    if type(message) == 'table' and type(message.properties) == 'table' then
      pri = tonumber(message.properties.priority) or 0
    end
    local list = KEYS[6]
    for s = 1, n do
      if pri >= tonumber(ARGV[3 + s]) then list = KEYS[5 + s] end
    end
    local body = cjson.encode(message)
    redis.call('RPUSH', list, (string.gsub(body, pattern, repl)))
    redis.call('HDEL', KEYS[4], tag)
    redis.call('ZREM', KEYS[5], tag)
    restored = restored + 1
  end
end
if restored > 0 then
  adjust(src, -restored, now)
  adjust(dst, restored, now)
end
return restored
