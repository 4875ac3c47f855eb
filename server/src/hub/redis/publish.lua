-- Appends a batch of events to the log, giving each the next id: the one place ids are assigned, atomically
-- with the append, so every instance sees one strictly increasing sequence.
--
-- KEYS[1] the log (a stream; entry ids are `0-<id>`), KEYS[2] meta (hash: `last`, the highest id ever
-- assigned; `epoch`, this data set's identity), KEYS[3] versions (hash: topic -> id of its newest event),
-- then one list per windowed topic (the ids of its events in the log, oldest first).
-- ARGV[1] floor: the caller's highest known id; ARGV[2] the caller's clock in microseconds; ARGV[3] now in
-- milliseconds (kept with each entry, for retention by age); ARGV[4] a fresh random epoch, used only when the
-- data set has none (it is new, or the broker lost everything); ARGV[5] how many windowed topics, then per
-- windowed topic (in the order of their lists in KEYS): its name and how many of its events the log keeps;
-- then per event: topic, data, expect.
-- `expect` is -1 for an unconditional append, or the id the caller's state was at when it derived the event
-- from that state: the append happens only if no newer event of its topic exists (compare-and-set).
--
-- The first id is max(last + 1, floor + 1, clock): ids never repeat, even when the broker lost its data (the
-- callers still know the old ids and the clock has moved on). Lua numbers are doubles, exact up to 2^53:
-- microseconds since 1970 stay below that for another 250 years.
--
-- A windowed topic (sensor readings) keeps only its newest events: older ones leave the log as new ones come,
-- so however chatty a sensor is, it never pushes messages and device changes out of the retention count (the
-- trim script leaves windowed entries out of that count).
--
-- Returns one integer per event: its id, or minus the id of the newer event of its topic (a conflict).
local function fmt(n)
  return string.format('%.0f', n)
end

local last = tonumber(redis.call('HGET', KEYS[2], 'last') or '0')
local id = math.max(last + 1, tonumber(ARGV[1]) + 1, tonumber(ARGV[2]))
redis.call('HSETNX', KEYS[2], 'epoch', ARGV[4])
local windows = {}
local windowed = tonumber(ARGV[5])
for k = 1, windowed do
  windows[ARGV[4 + 2 * k]] = { list = KEYS[3 + k], keep = tonumber(ARGV[5 + 2 * k]) }
end
local out = {}
for i = 6 + 2 * windowed, #ARGV, 3 do
  local topic = ARGV[i]
  local expect = tonumber(ARGV[i + 2])
  local newest = tonumber(redis.call('HGET', KEYS[3], topic) or '0')
  if expect >= 0 and newest > expect then
    out[#out + 1] = -newest
  else
    redis.call('XADD', KEYS[1], '0-' .. fmt(id), 't', topic, 'd', ARGV[i + 1], 'ms', ARGV[3])
    redis.call('HSET', KEYS[3], topic, fmt(id))
    local window = windows[topic]
    if window then
      redis.call('RPUSH', window.list, fmt(id))
      local excess = redis.call('LLEN', window.list) - window.keep
      if excess > 0 then
        for _, old in ipairs(redis.call('LPOP', window.list, excess)) do
          redis.call('XDEL', KEYS[1], '0-' .. old)
        end
      end
    end
    out[#out + 1] = id
    last = id
    id = id + 1
  end
end
redis.call('HSET', KEYS[2], 'last', fmt(last))
return out
