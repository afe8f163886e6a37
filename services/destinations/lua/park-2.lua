-- Parks one delivery item in its customer's queue (services/destinations/src/parking-store.ts).
-- KEYS[1] the customer's queue (list, head first), KEYS[2] its attempts hash (id -> attempts made); one slot.
-- ARGV[1] mode: 'always' (park) or 'if-parked' (park only behind items already parked), ARGV[2] the item id,
-- ARGV[3] the encoded item (`<id>\t<json>`), ARGV[4] attempts already made.
-- Returns the queue length after (>= 1), or 0 when mode is 'if-parked' and the queue is empty (nothing parked).
-- An id already queued (a redelivered Kafka batch) is not appended again.
if ARGV[1] == 'if-parked' and redis.call('LLEN', KEYS[1]) == 0 then
  return 0
end
if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[4]) == 1 then
  redis.call('RPUSH', KEYS[1], ARGV[3])
end
return redis.call('LLEN', KEYS[1])
