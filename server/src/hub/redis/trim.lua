-- One bounded step of retention: drops the oldest entries that are over the count limit or older than the age
-- limit, but never the checkpoint's own entry or anything after it (a new instance starts from the checkpoint
-- and reads forward, so that part of the log must stay). Entries of a window (a sensor's readings, which the
-- publish script already keeps to their window; field `w`) are not counted against the count limit and go only
-- by age, so the step steps over them and the next one carries on after the last entry it looked at.
--
-- So the log is not a prefix dropped: messages after a kept reading may be gone. What was dropped is recorded
-- per event name (the highest id dropped), so that a resume from an id below it — which would replay across
-- the hole — is answered with a reset instead, on every instance. (Readings the publish script drops as newer
-- ones fill their window are not recorded: the window's newest readings are what a resume needs of them.)
--
-- KEYS[1] the log, KEYS[2] the checkpoint, KEYS[3] meta (its `windowed` counts the log's windowed entries),
-- KEYS[4] trimmed (hash: event name -> the highest id of that name retention dropped).
-- ARGV[1] the most entries of other events kept, ARGV[2] the oldest publish time kept (milliseconds), ARGV[3]
-- the most entries looked at in this step, ARGV[4] the id of the entry the previous step stopped after ('' for
-- the start of the log), ARGV[5] the prefix of window lists (see the publish script).
-- Returns {entries dropped, 1 if the next step should carry on, the id of the last entry looked at}.
local log = KEYS[1]
local windowed = tonumber(redis.call('HGET', KEYS[3], 'windowed') or '0')
local checkpoint = tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')
local over = redis.call('XLEN', log) - windowed - tonumber(ARGV[1])
local oldest = tonumber(ARGV[2])
local from = '-'
if ARGV[4] ~= '' then
  from = '(' .. ARGV[4]
end
local entries = redis.call('XRANGE', log, from, '+', 'COUNT', ARGV[3])
local dropped, counted, unwindowed = 0, 0, 0
-- Event name -> the highest id of that name this step drops (entries come oldest first).
local trimmed = {}
local stopped = false
local last = ''
for _, entry in ipairs(entries) do
  local id = string.sub(entry[1], 3)
  if tonumber(id) >= checkpoint then
    stopped = true
    break
  end
  local window, ms, name = nil, 0, ''
  local fields = entry[2]
  for j = 1, #fields, 2 do
    if fields[j] == 'w' then
      window = fields[j + 1]
    elseif fields[j] == 'ms' then
      ms = tonumber(fields[j + 1]) or 0
    elseif fields[j] == 't' then
      name = fields[j + 1]
    end
  end
  if ms < oldest then
    redis.call('XDEL', log, entry[1])
    if window then
      redis.call('LREM', ARGV[5] .. window, 1, id)
      unwindowed = unwindowed + 1
    else
      counted = counted + 1
    end
    dropped = dropped + 1
    trimmed[name] = id
  elseif window then
    -- A reading within its window and its age: it stays, and does not count.
  elseif counted < over then
    redis.call('XDEL', log, entry[1])
    counted = counted + 1
    dropped = dropped + 1
    trimmed[name] = id
  else
    stopped = true
    break
  end
  last = entry[1]
end
for name, id in pairs(trimmed) do
  if tonumber(redis.call('HGET', KEYS[4], name) or '0') < tonumber(id) then
    redis.call('HSET', KEYS[4], name, id)
  end
end
if unwindowed > 0 then
  redis.call('HINCRBY', KEYS[3], 'windowed', -unwindowed)
end
local more = 0
if not stopped and #entries == tonumber(ARGV[3]) then
  more = 1
end
return { dropped, more, last }
