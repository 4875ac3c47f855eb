-- Stores the state as of an id, unless a newer one is stored already (compare-and-set: every instance writes
-- checkpoints, and an instance that is behind must never move the checkpoint back).
--
-- KEYS[1] the checkpoint (hash: `seq`, `state`). ARGV[1] the id the state is at, ARGV[2] the state as JSON.
-- Returns 1 when stored, 0 when a newer checkpoint was there.
local stored = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if tonumber(ARGV[1]) <= stored then
  return 0
end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'state', ARGV[2])
return 1
