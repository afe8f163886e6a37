-- Connectivity check for Lua on the stack's Redis (test/connectivity.it.test.ts).
-- KEYS[1]: a hash; ARGV[1]: a field; ARGV[2]: an integer to add.
-- Adds ARGV[2] to the field atomically and returns { ARGV[1], new value, number of fields }, so the caller can tell
-- that the script ran server-side on the prefixed key it passed.
local value = redis.call('HINCRBY', KEYS[1], ARGV[1], tonumber(ARGV[2]))
return { ARGV[1], value, redis.call('HLEN', KEYS[1]) }
