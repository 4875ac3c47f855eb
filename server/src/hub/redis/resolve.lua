-- Settles a publish batch whose reply its caller did not get: the batch's answer if the publish script ran,
-- otherwise a fence, so that the batch is refused if it still arrives (stuck behind a stalled broker, or in a
-- connection's buffers) and the caller may truthfully say it was not applied.
--
-- KEYS[1] the batch's record. ARGV[1] how long a fence is kept (milliseconds): longer than any copy of the
-- batch could still be on its way.
-- Returns the publish script's answers (ids, or minus a conflicting id, comma-separated), or 'fenced'.
local answer = redis.call('GET', KEYS[1])
if answer then
  return answer
end
redis.call('SET', KEYS[1], 'fenced', 'PX', ARGV[1])
return 'fenced'
