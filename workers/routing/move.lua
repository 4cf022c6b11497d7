-- Move the messages left in a vanished direct queue to its pool queue, atomically: each
-- message is popped and pushed in the same script, so none is lost or duplicated. They keep
-- their order and go to the consuming end, ahead of newer work. Each message's delivery
-- info is re-addressed to the pool queue (exchange and routing key are the quoted queue
-- name), so a later redelivery and the completion hook both see the pool queue; the moved
-- count goes with them from one in-flight counter to the other.
-- KEYS[4 .. 3+n] the source's priority lists, KEYS[4+n .. 3+2n] the destination's.
-- ARGV: source queue, destination queue, most messages to move, n, now ms.
local src, dst = ARGV[1], ARGV[2]
local limit, n = tonumber(ARGV[3]), tonumber(ARGV[4])
local now = clock(ARGV[5])
local pattern = '"' .. string.gsub(src, '%p', '%%%0') .. '"'
local repl = '"' .. string.gsub(dst, '%%', '%%%%') .. '"'
local moved = 0
for i = 0, n - 1 do
  local from, to = KEYS[4 + i], KEYS[4 + n + i]
  while moved < limit do
    local m = redis.call('LPOP', from)
    if not m then break end
    redis.call('RPUSH', to, (string.gsub(m, pattern, repl)))
    moved = moved + 1
  end
end
if moved > 0 then
  adjust(src, -moved, now)
  adjust(dst, moved, now)
end
return moved
