-- Written by the aggregator after it applied customers' events (one call per signal partition and chunk of customers:
-- the key has the partition hash tag {p<n>}, so this runs on one Redis Cluster slot).
-- KEYS[1] due index (sorted set, see below)
-- ARGV pairs: customer id, due instant (end of the earliest event day, epoch ms, an integer below 2^42).
-- Returns the number of customers scheduled.
--
-- The due index holds every customer of the partition (docs/design-decisions.md §23): score = the instant it is due
-- plus a touch counter in the fraction (k/1024, k = 0..1023), or +inf when nothing can change without new events.
-- Each call keeps the earlier instant and steps the counter, so the score changes on every touch: the tier engine's
-- commit (commit_due-1.lua) compares the whole score with the one it read to learn that the customer changed under
-- its evaluation, and no event day is lost between the two writers. Scores below 2^42 keep 10 bits of fraction exact.
local key = KEYS[1]
for i = 1, #ARGV, 2 do
  local id, at = ARGV[i], tonumber(ARGV[i + 1])
  local current = redis.call('ZSCORE', key, id)
  local score = at
  if current then
    local old = tonumber(current)
    if old ~= math.huge then
      local base = math.floor(old)
      local k = (old - base) * 1024
      if base < at then at = base end
      score = at + ((k + 1) % 1024) / 1024
    end
  end
  -- %.17g: a Lua number argument is formatted with 14 digits, which would drop the counter.
  redis.call('ZADD', key, string.format('%.17g', score), id)
end
return #ARGV / 2
