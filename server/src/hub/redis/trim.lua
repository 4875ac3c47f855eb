-- One bounded step of retention: drops the oldest entries that are over the count limit or older than the age
-- limit, but never the checkpoint's own entry or anything after it (a new instance starts from the checkpoint
-- and reads forward, so that part of the log must stay).
--
-- KEYS[1] the log, KEYS[2] the checkpoint. ARGV[1] the most entries kept, ARGV[2] the oldest publish time kept
-- (milliseconds), ARGV[3] the most entries looked at in this step.
-- Returns the number of entries dropped (as many as the step looked at: call again).
local len = redis.call('XLEN', KEYS[1])
local checkpoint = tonumber(redis.call('HGET', KEYS[1 + 1], 'seq') or '0')
local over = len - tonumber(ARGV[1])
local oldest = tonumber(ARGV[2])
local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[3])
local dropped = 0
local cut = nil
for _, entry in ipairs(entries) do
  local id = tonumber(string.sub(entry[1], 3))
  local fields = entry[2]
  local ms = 0
  for j = 1, #fields, 2 do
    if fields[j] == 'ms' then
      ms = tonumber(fields[j + 1]) or 0
    end
  end
  if id >= checkpoint or not (dropped < over or ms < oldest) then
    cut = entry[1]
    break
  end
  dropped = dropped + 1
end
if dropped == 0 then
  return 0
end
if cut == nil then
  -- Everything looked at goes: cut right after the last of it.
  local last = tonumber(string.sub(entries[#entries][1], 3))
  cut = '0-' .. string.format('%.0f', last + 1)
end
redis.call('XTRIM', KEYS[1], 'MINID', cut)
return dropped
