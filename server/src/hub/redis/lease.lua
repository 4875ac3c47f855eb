-- Takes a lease, or renews it when the caller already holds it (SET NX PX, plus a renewal only its holder can
-- make). KEYS[1] the lease. ARGV[1] the caller, ARGV[2] how long the lease lasts without renewal (ms).
-- Returns 1 when the caller holds the lease, 0 when another instance does.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
return 1
