-- Appends a batch of events to the log, giving each the next id: the one place ids are assigned, atomically
-- with the append, so every instance sees one strictly increasing sequence.
--
-- KEYS[1] the log (a stream; entry ids are `0-<id>`), KEYS[2] meta (hash: `last`, the highest id ever
-- assigned; `n`, how many entries were ever appended; `epoch`, this data set's identity; `windowed`, how many
-- entries of the log belong to a window), KEYS[3] versions (hash: conflict key -> id of its newest event),
-- KEYS[4] this batch's record (see below).
-- ARGV[1] floor: the caller's highest known id; ARGV[2] the caller's clock in microseconds; ARGV[3] now in
-- milliseconds (kept with each entry, for retention by age); ARGV[4] a fresh random epoch, used only when the
-- data set has none (it is new, or the broker lost everything); ARGV[5] the prefix of window lists; ARGV[6] how
-- long the batch's record is kept (milliseconds); then per event: name, data, condition, conflict key, window
-- key ('' for none), window size.
--
-- Each entry also carries `n`, its ordinal (meta's `n` after it): ordinals are dense where ids jump with the
-- clock, so how many entries lie between two of them is one subtraction, and an ordinal at or below one an
-- instance has already seen means the log went back (a failover lost entries).
--
-- The batch's record is how a caller whose reply was lost (the broker stalled past its deadline, or the
-- connection broke) learns what became of the batch: the script stores its answer there; the caller reads it
-- back, or, finding none, fences it (the resolve script) so that the batch, should it still arrive, is refused.
-- `condition` is -1 for an unconditional append, or the id the caller's state was at when it derived the
-- event from that state: the append happens only if no newer event with its conflict key exists
-- (compare-and-set; the key is one entity's for an entity's changes, the topic's otherwise).
--
-- The first id is max(last + 1, floor + 1, clock): ids never repeat, even when the broker lost its data (the
-- callers still know the old ids and the clock has moved on). Lua numbers are doubles, exact up to 2^53:
-- microseconds since 1970 stay below that for another 250 years.
--
-- An event with a window key (a sensor's readings) is one of a run of which the log keeps only the newest
-- `size`: older ones leave the log as new ones come, so however chatty a sensor is, it never pushes messages and
-- device changes out of the retention count (the trim script leaves windowed entries out of that count). Each
-- run's ids are kept in a list `<prefix><window key>`, oldest first; all keys share the `{hearth}` hash tag,
-- so the script's keys are in one slot even though a run's list is named here rather than in KEYS.
--
-- Returns one integer per event: its id, or minus the id of the newer event with its conflict key (a conflict).
local function fmt(n)
  return string.format('%.0f', n)
end

if redis.call('EXISTS', KEYS[4]) == 1 then
  return redis.error_reply('FENCED this batch was given up by its caller and must not be applied')
end
local last = tonumber(redis.call('HGET', KEYS[2], 'last') or '0')
local id = math.max(last + 1, tonumber(ARGV[1]) + 1, tonumber(ARGV[2]))
redis.call('HSETNX', KEYS[2], 'epoch', ARGV[4])
local out = {}
for i = 7, #ARGV, 6 do
  local name, data, condition = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local conflict, window, size = ARGV[i + 3], ARGV[i + 4], tonumber(ARGV[i + 5])
  local newest = tonumber(redis.call('HGET', KEYS[3], conflict) or '0')
  if condition >= 0 and newest > condition then
    out[#out + 1] = -newest
  else
    local entry = '0-' .. fmt(id)
    local n = redis.call('HINCRBY', KEYS[2], 'n', 1)
    if window == '' then
      redis.call('XADD', KEYS[1], entry, 't', name, 'd', data, 'ms', ARGV[3], 'n', n)
    else
      redis.call('XADD', KEYS[1], entry, 't', name, 'd', data, 'ms', ARGV[3], 'n', n, 'w', window)
      local list = ARGV[5] .. window
      redis.call('RPUSH', list, fmt(id))
      redis.call('HINCRBY', KEYS[2], 'windowed', 1)
      local excess = redis.call('LLEN', list) - size
      if excess > 0 then
        local gone = 0
        for _, old in ipairs(redis.call('LPOP', list, excess)) do
          gone = gone + redis.call('XDEL', KEYS[1], '0-' .. old)
        end
        redis.call('HINCRBY', KEYS[2], 'windowed', -gone)
      end
    end
    redis.call('HSET', KEYS[3], conflict, fmt(id))
    out[#out + 1] = id
    last = id
    id = id + 1
  end
end
redis.call('HSET', KEYS[2], 'last', fmt(last))
local record = {}
for i, answer in ipairs(out) do
  record[i] = fmt(answer)
end
redis.call('SET', KEYS[4], table.concat(record, ','), 'PX', ARGV[6])
return out
