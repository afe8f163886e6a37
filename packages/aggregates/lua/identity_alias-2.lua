-- ALIAS (design-decisions §22), in the slot of the anonymous id X: X is customer C from the alias's time on; returns
-- the anonymous events held for X that the alias folds into C (those within the retention horizon before it).
-- KEYS[1] X's alias hash (<prefix>:{anon:X}:aid)   KEYS[2] X's held events (<prefix>:{anon:X}:anon: a string of
-- entries while X has no alias, see identity_hold_many.lua; a hash of event ids once aliased, or a previous build's)
-- ARGV[1] the alias's event id   ARGV[2] C   ARGV[3] the alias's occurred_at (epoch ms)
-- ARGV[4] the oldest occurred_at folded (the alias's time - the anonymous retention horizon)
-- ARGV[5] how long the held events are kept after the alias (ms): redeliveries and copies of them are recognised
-- meanwhile (the hold's F)
-- The held string becomes a hash event id -> `occurred_at,web type index` (and '' = 'folded': the hash is not a
-- previous build's, whose `_min` could be its meta): a hash at KEYS[2] tells the hold that X may be aliased.
-- Returns {0, '', held...} aliased now; {1, '', held...} this event aliased X before (a redelivery: the caller folds
-- again, the fold is idempotent by the alias's event id); {-4, <customer>} X was aliased by another event, to
-- <customer> (the caller says duplicate when its root is root(C), else ALIAS_CONFLICT). `held...` are pairs
-- event id, `occurred_at,web type index`, one per event id (its first entry).
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
local kind = redis.call('TYPE', KEYS[2]).ok
if kind == 'string' then
  local s = redis.call('GET', KEYS[2])
  local fields, seen = {'', 'folded'}, {}
  local p, len = 1, #s
  while p <= len do
    local _, e, at, t, size = string.find(s, '^(%d+),(%d+),(%d+):', p)
    local stop = e + tonumber(size)
    local id = string.sub(s, e + 1, stop)
    -- (An empty id is the hold's bound marker, not an event.)
    if id ~= '' and not seen[id] then
      seen[id] = true
      local value = at .. ',' .. t
      fields[#fields + 1] = id
      fields[#fields + 1] = value
      if tonumber(at) >= floor then
        out[#out + 1] = id
        out[#out + 1] = value
      end
    end
    p = stop + 1
  end
  redis.call('DEL', KEYS[2])
  for i = 1, #fields, 2000 do
    redis.call('HSET', KEYS[2], unpack(fields, i, math.min(#fields, i + 1999)))
  end
elseif kind == 'hash' then
  -- Folded before (a redelivery), or a previous build's hash: its meta ('', or `_min` in a hash without '') and alias
  -- marker (' ') are not events.
  local all = redis.call('HGETALL', KEYS[2])
  local legacy = true
  for i = 1, #all, 2 do
    if all[i] == '' then legacy = false end
  end
  for i = 1, #all, 2 do
    local f = all[i]
    if f ~= '' and f ~= ' ' and not (legacy and f == '_min') then
      if tonumber(string.match(all[i + 1], '^(%d+)')) >= floor then
        out[#out + 1] = f
        out[#out + 1] = all[i + 1]
      end
    end
  end
end
if kind ~= 'none' then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
return out
