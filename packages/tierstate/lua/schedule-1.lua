-- Written by the aggregator after it applied customers' events (one call per signal partition and chunk of customers:
-- the key has the partition hash tag {p<n>}, so this runs on one Redis Cluster slot).
-- KEYS[1] due index (sorted set, see below)
-- ARGV pairs: customer id, due instant (end of the earliest event day, epoch ms, an integer below 2^42).
-- Returns the number of distinct customers scheduled.
--
-- The due index holds every customer of the partition (docs/design-decisions.md §23): score = the instant it is due
-- plus a touch counter in the fraction (k/1024, k = 0..1023), or +inf when nothing can change without new events.
-- Each call keeps the earlier instant and steps the counter, so the score changes on every touch: the tier engine's
-- commit (commit_due-1.lua) compares the whole score with the one it read to learn that the customer changed under
-- its evaluation, and no event day is lost between the two writers. Scores below 2^42 keep 10 bits of fraction exact.
local key = KEYS[1]
local scores, order = {}, {}
for i = 1, #ARGV, 2 do
  local id, at = ARGV[i], tonumber(ARGV[i + 1])
  local old = scores[id]
  if old == nil then
    local current = redis.call('ZSCORE', key, id)
    old = current and tonumber(current) or false
    order[#order + 1] = id
  end
  local score = at
  if old and old ~= math.huge then
    local base = math.floor(old)
    local k = (old - base) * 1024
    if base < at then at = base end
    score = at + ((k + 1) % 1024) / 1024
  end
  scores[id] = score
end
if #order == 0 then return 0 end
-- One ZADD for the call. %.17g: a Lua number argument is formatted with 14 digits, which would drop the counter.
local args = {}
for _, id in ipairs(order) do
  args[#args + 1] = string.format('%.17g', scores[id])
  args[#args + 1] = id
end
redis.call('ZADD', key, unpack(args))
return #order
