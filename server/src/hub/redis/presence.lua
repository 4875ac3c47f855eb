-- Records this instance's viewer count with a deadline, drops instances whose deadline passed (they stopped
-- reporting: dead or cut off), and returns the total over the rest. Deadlines use the broker's clock, so
-- instances whose clocks disagree still agree on who is gone.
--
-- KEYS[1] the counts (hash: instance -> "<count> <deadline ms>"). ARGV[1] the instance, ARGV[2] its count,
-- ARGV[3] how long its count stands without another report (ms).
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. string.format('%.0f', now + tonumber(ARGV[3])))
local total = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local count, deadline = string.match(all[i + 1], '^(%d+) (%d+)$')
  if count == nil or tonumber(deadline) < now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    total = total + tonumber(count)
  end
end
return total
