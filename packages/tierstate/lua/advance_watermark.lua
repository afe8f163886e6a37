-- KEYS[1] watermark hash (input topic:partition -> max event time applied)   ARGV[1] field   ARGV[2] instant
-- Watermarks only move forward: a late or redelivered record never moves the replay clock back.
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if tonumber(ARGV[2]) > current then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
