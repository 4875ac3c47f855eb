-- Raises a hash field to a number unless it is at or above it already (a high-water mark that only goes up,
-- whichever instance gets there first).
--
-- KEYS[1] the hash, ARGV[1] the field, ARGV[2] the number. Returns the field's value afterwards.
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local wanted = tonumber(ARGV[2])
if current < wanted then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return ARGV[2]
end
return redis.call('HGET', KEYS[1], ARGV[1])
