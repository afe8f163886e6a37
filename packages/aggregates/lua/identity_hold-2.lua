-- The anonymous web events of one anonymous id X in one batch (design-decisions §22), in X's slot: held under X
-- while X has no alias, routed to the customer once it has.
-- KEYS[1] X's alias hash (<prefix>:{anon:X}:aid)   KEYS[2] X's held events (<prefix>:{anon:X}:anon: hash event id ->
-- `occurred_at,web type index`, and `_min` = a lower bound of the held occurred_at)
-- ARGV[1] floor: events older than this are not held (no alias still to come can fold them: its time is at least the
-- identity watermark, and it folds back to its time - the horizon); held events older than it are pruned
-- ARGV[2] most events held per anonymous id (a memory bound; beyond it events are dropped and reported)
-- ARGV[3] expiry of the held events (ms, refreshed on every hold)
-- ARGV[4..] pairs: event id, `occurred_at,web type index`
-- Returns {customer, alias time, decisions}: customer '' while X has no alias; decisions one letter per event:
-- H held now (or a copy of a held one), O older than the floor (counts for nobody), D dropped (the bound), and with
-- an alias: R route to the customer, F held before the alias (the alias folded it: do not apply it again).
local alias = redis.call('HMGET', KEYS[1], 'c', 't')
local out = {}
if alias[1] then
  for i = 4, #ARGV, 2 do
    if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then out[#out + 1] = 'F' else out[#out + 1] = 'R' end
  end
  return {alias[1], alias[2], table.concat(out)}
end
local floor = tonumber(ARGV[1])
local min = tonumber(redis.call('HGET', KEYS[2], '_min') or '0')
if min < floor and redis.call('EXISTS', KEYS[2]) == 1 then
  -- Prune: rare (only when the floor passed the oldest held event), so the whole hash is read at most then.
  local all = redis.call('HGETALL', KEYS[2])
  local newMin = nil
  for i = 1, #all, 2 do
    if all[i] ~= '_min' then
      local at = tonumber(string.match(all[i + 1], '^(%d+)'))
      if at < floor then redis.call('HDEL', KEYS[2], all[i])
      elseif newMin == nil or at < newMin then newMin = at end
    end
  end
  if newMin then redis.call('HSET', KEYS[2], '_min', newMin) else redis.call('DEL', KEYS[2]) end
  min = newMin or 0
end
local cap = tonumber(ARGV[2])
local held = false
for i = 4, #ARGV, 2 do
  local at = tonumber(string.match(ARGV[i + 1], '^(%d+)'))
  if at < floor then
    out[#out + 1] = 'O'
  elseif redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then
    out[#out + 1] = 'H'
  elseif redis.call('HLEN', KEYS[2]) > cap then
    out[#out + 1] = 'D'
  else
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
    if min == 0 or at < min then
      min = at
      redis.call('HSET', KEYS[2], '_min', at)
    end
    held = true
    out[#out + 1] = 'H'
  end
end
if held then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return {'', '0', table.concat(out)}
