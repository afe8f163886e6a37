-- Settles or records an attempt on the head of a customer's queue (services/destinations/src/parking-store.ts).
-- KEYS[1] the customer's queue (list, head first), KEYS[2] its attempts hash (id -> attempts made); one slot.
-- ARGV[1] the head's id (empty: only report the length), ARGV[2] attempts made ('' = the head is done: remove it).
-- Returns the queue length after, or -1 when ARGV[1] is not the head (it was settled already: nothing changes).
if ARGV[1] == '' then
  return redis.call('LLEN', KEYS[1])
end
local head = redis.call('LINDEX', KEYS[1], 0)
if not head or string.sub(head, 1, #ARGV[1] + 1) ~= ARGV[1] .. '\t' then
  return -1
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  return redis.call('LLEN', KEYS[1])
end
redis.call('LPOP', KEYS[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('LLEN', KEYS[1])
