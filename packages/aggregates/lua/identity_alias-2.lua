-- ALIAS (design-decisions §22), in the slot of the anonymous id X: X is customer C from the alias's time on; returns
-- the anonymous events held for X that the alias folds into C (those within the retention horizon before it).
-- KEYS[1] X's alias hash (<prefix>:{anon:X}:aid)   KEYS[2] X's held events (<prefix>:{anon:X}:anon, see hold)
-- (the held hash's meta is its '' field, or `_min` in a hash of a previous build without ''; its alias marker ' ' =
-- `<alias time>,<customer>` is written here when the hash exists: see identity_hold_many.lua)
-- ARGV[1] the alias's event id   ARGV[2] C   ARGV[3] the alias's occurred_at (epoch ms)
-- ARGV[4] the oldest occurred_at folded (the alias's time - the anonymous retention horizon)
-- ARGV[5] how long the held events are kept after the alias (ms): redeliveries of them are recognised meanwhile
-- Returns {0, '', held...} aliased now; {1, '', held...} this event aliased X before (a redelivery: the caller folds
-- again, the fold is idempotent by the alias's event id); {-4, <customer>} X was aliased by another event, to
-- <customer> (the caller says duplicate when its root is root(C), else ALIAS_CONFLICT). `held...` are pairs
-- event id, `occurred_at,web type index`.
local cur = redis.call('HMGET', KEYS[1], 'c', 'e')
local code = 0
if cur[1] then
  if cur[2] ~= ARGV[1] then return {-4, cur[1]} end
  code = 1
else
  redis.call('HSET', KEYS[1], 'c', ARGV[2], 'e', ARGV[1], 't', ARGV[3])
end
local out = {code, ''}
local floor = tonumber(ARGV[4])
local all = redis.call('HGETALL', KEYS[2])
local legacy = true
for i = 1, #all, 2 do
  if all[i] == '' then legacy = false end
end
for i = 1, #all, 2 do
  local f = all[i]
  if f ~= '' and f ~= ' ' and not (legacy and f == '_min') then
    local v = all[i + 1]
    local at = tonumber(string.match(v, '^(%d+)'))
    if at >= floor then
      out[#out + 1] = f
      out[#out + 1] = v
    end
  end
end
if #all > 0 then
  -- The hold reads the alias from the held hash (the marker) rather than from the alias hash.
  local alias = redis.call('HMGET', KEYS[1], 'c', 't')
  redis.call('HSET', KEYS[2], ' ', alias[2] .. ',' .. alias[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
return out
