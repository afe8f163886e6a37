-- Written by the aggregator after it applied a customer's events (one call per customer; all keys share the
-- partition hash tag {p<n>} of the customer's signal partition, so this runs on one Redis Cluster slot).
-- KEYS[1] due zset   KEYS[2] touch hash   KEYS[3] customers set
-- ARGV[1] customer id   ARGV[2] due instant (end of the earliest event day, epoch ms)
-- ZADD LT keeps an earlier due instant; the touch counter tells a concurrent evaluation that the customer
-- changed under it (see commit_due.lua), so no event day can be lost between the two writers.
redis.call('ZADD', KEYS[1], 'LT', ARGV[2], ARGV[1])
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('SADD', KEYS[3], ARGV[1])
return 1
