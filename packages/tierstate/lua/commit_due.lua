-- Written by the tier engine after it evaluated a customer that was due at ARGV[2].
-- KEYS[1] due zset   KEYS[2] touch hash (same {p<n>} slot)
-- ARGV[1] customer id   ARGV[2] the due score that was processed   ARGV[3] touch counter read before the
-- evaluation ('0' if none)   ARGV[4] next due instant, or '' when nothing can change without new events.
-- If the aggregator touched the customer meanwhile, the evaluation may have missed new events: keep the customer
-- due no later than the processed instant, so it is evaluated again with the new aggregates.
local touched = redis.call('HGET', KEYS[2], ARGV[1]) or '0'
if touched ~= ARGV[3] then
  redis.call('ZADD', KEYS[1], 'LT', ARGV[2], ARGV[1])
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
if current and tonumber(current) < tonumber(ARGV[2]) then
  -- lowered by the aggregator before our read of the touch counter: already covered, keep the earlier instant
  if ARGV[4] ~= '' then redis.call('ZADD', KEYS[1], 'LT', ARGV[4], ARGV[1]) end
  return 1
end
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
end
return 1
