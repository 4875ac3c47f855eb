-- Stores the state as of an id, unless a newer one is stored already (compare-and-set: every instance writes
-- checkpoints, and an instance that is behind must never move the checkpoint back) or the id is beyond the
-- log's highest (the log went back under that instance — a failover lost entries it had seen — so its state is
-- of a history the log no longer continues: a new instance starting from it would skip what the log has since
-- taken under the same ids).
--
-- KEYS[1] the checkpoint (hash: `seq`, `state`), KEYS[2] meta (its `last`: the highest id ever assigned).
-- ARGV[1] the id the state is at, ARGV[2] the state as JSON.
-- Returns 1 when stored, 0 when a newer checkpoint was there, -1 when the id is beyond the log's highest.
local seq = tonumber(ARGV[1])
if seq > tonumber(redis.call('HGET', KEYS[2], 'last') or '0') then
  return -1
end
local stored = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if seq <= stored then
  return 0
end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'state', ARGV[2])
return 1
