-- Written by the aggregator after it applied customers' events (one call per signal partition and batch; all keys
-- share the partition hash tag {p<n>} of the customers' signal partition, so this runs on one Redis Cluster slot).
-- KEYS[1] due zset   KEYS[2] touch hash   KEYS[3] customers set
-- ARGV pairs: customer id, due instant (end of the earliest event day, epoch ms); one pair or many.
-- ZADD LT keeps an earlier due instant; the touch counter tells a concurrent evaluation that the customer
-- changed under it (see commit_due.lua), so no event day can be lost between the two writers.
-- Returns the number of customers scheduled.
local zadd, ids = {}, {}
for i = 1, #ARGV, 2 do
  zadd[#zadd + 1] = ARGV[i + 1]
  zadd[#zadd + 1] = ARGV[i]
  ids[#ids + 1] = ARGV[i]
  redis.call('HINCRBY', KEYS[2], ARGV[i], 1)
end
if #ids == 0 then return 0 end
redis.call('ZADD', KEYS[1], 'LT', unpack(zadd))
redis.call('SADD', KEYS[3], unpack(ids))
return #ids
