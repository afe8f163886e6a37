-- Written by the tier engine after it evaluated a customer that was due (docs/design-decisions.md §23).
-- KEYS[1] due index (sorted set of the partition, see schedule-1.lua)
-- ARGV[1] customer id   ARGV[2] the due instant that was processed (integer ms)   ARGV[3] the score read with it
-- (the touch)   ARGV[4] next due instant; '' nothing can change without new events (the customer stays, at +inf);
-- 'x' the customer leaves the partition (merged into another, or erased: its id is removed)
-- Returns 1 when ARGV[4] was applied, 0 when the customer was touched meanwhile (kept due no later than ARGV[2]) or
-- is no longer in the index (an erasure removed it: not added back).
-- If the aggregator touched the customer meanwhile, the evaluation may have missed new events: the score changed
-- (schedule-1.lua steps its fraction on every touch), so keep the customer due no later than the processed instant
-- and it is evaluated again with the new aggregates.
local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not current then return 0 end
if tonumber(current) ~= tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], 'LT', ARGV[2], ARGV[1])
  return 0
end
if ARGV[4] == 'x' then
  redis.call('ZREM', KEYS[1], ARGV[1])
elseif ARGV[4] == '' then
  redis.call('ZADD', KEYS[1], '+inf', ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
end
return 1
