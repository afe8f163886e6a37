-- Claims the customers whose parked head is due (services/destinations/src/parking-store.ts).
-- KEYS[1] the destination's due set (member customer id, score ms when due or until when claimed).
-- ARGV[1] now (ms), ARGV[2] the claim's end (ms), ARGV[3] at most this many customers.
-- Returns the claimed customer ids; their score is set to ARGV[2], so no other retry loop takes them meanwhile.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, customer in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[2], customer)
end
return due
