-- One bounded step of retention: drops the oldest entries that are over the count limit or older than the age
-- limit, but never the checkpoint's own entry or anything after it (a new instance starts from the checkpoint
-- and reads forward, so that part of the log must stay). Entries of windowed topics (sensor readings, which the
-- publish script already keeps to their window) are not counted against the count limit and go only by age, so
-- the step steps over them and the next one carries on after the last entry it looked at.
--
-- KEYS[1] the log, KEYS[2] the checkpoint, then one list per windowed topic (its events' ids, oldest first).
-- ARGV[1] the most entries of other topics kept, ARGV[2] the oldest publish time kept (milliseconds), ARGV[3]
-- the most entries looked at in this step, ARGV[4] the id of the entry the previous step stopped after ('' for
-- the start of the log), then the windowed topics' names, in the order of their lists.
-- Returns {entries dropped, 1 if the next step should carry on, the id of the last entry looked at}.
local log = KEYS[1]
local lists = {}
local windowed = 0
for k = 5, #ARGV do
  local list = KEYS[k - 2]
  lists[ARGV[k]] = list
  windowed = windowed + redis.call('LLEN', list)
end
local checkpoint = tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')
local over = redis.call('XLEN', log) - windowed - tonumber(ARGV[1])
local oldest = tonumber(ARGV[2])
local from = '-'
if ARGV[4] ~= '' then
  from = '(' .. ARGV[4]
end
local entries = redis.call('XRANGE', log, from, '+', 'COUNT', ARGV[3])
local dropped, counted = 0, 0
local stopped = false
local last = ''
for _, entry in ipairs(entries) do
  local id = string.sub(entry[1], 3)
  if tonumber(id) >= checkpoint then
    stopped = true
    break
  end
  local topic, ms = nil, 0
  local fields = entry[2]
  for j = 1, #fields, 2 do
    if fields[j] == 't' then
      topic = fields[j + 1]
    elseif fields[j] == 'ms' then
      ms = tonumber(fields[j + 1]) or 0
    end
  end
  local list = topic and lists[topic]
  if ms < oldest then
    redis.call('XDEL', log, entry[1])
    if list then
      redis.call('LREM', list, 1, id)
    else
      counted = counted + 1
    end
    dropped = dropped + 1
  elseif list then
    -- A reading within its window and its age: it stays, and does not count.
  elseif counted < over then
    redis.call('XDEL', log, entry[1])
    counted = counted + 1
    dropped = dropped + 1
  else
    stopped = true
    break
  end
  last = entry[1]
end
local more = 0
if not stopped and #entries == tonumber(ARGV[3]) then
  more = 1
end
return { dropped, more, last }
