-- The anonymous web events of a batch, for many anonymous ids in one call (design-decisions §22); each id X in its own
-- slot, so in Redis Cluster a call holds the ids of one slot only (the caller groups them). Per X: held under X while X
-- has no alias, routed to the customer once it has. Atomic per call, so per X like a call of its own.
-- KEYS[2k-1] X_k's alias hash (<prefix>:{anon:X}:aid)   KEYS[2k] X_k's held events (<prefix>:{anon:X}:anon: hash event
-- id -> `occurred_at,web type index`, and `_min` = a lower bound of the held occurred_at)
-- ARGV[1] floor: events older than this are not held (no alias still to come can fold them: its time is at least the
-- identity watermark, and it folds back to its time - the horizon); held events older than it are pruned
-- ARGV[2] most events held per anonymous id (a memory bound; beyond it events are dropped and reported)
-- ARGV[3] expiry of the held events (ms, refreshed on every hold)
-- ARGV[3 + k] X_k's events of the batch, in delivery order, packed: per event `<occurred_at>,<web type index>,<byte
-- length of the event id>:<event id>` (one argument per id: the arguments' count, not their bytes, is what costs)
-- Returns per X_k, in KEYS order, 3 values {customer, alias time, decisions}: customer '' while X has no alias;
-- decisions one letter per event: H held now (or a copy of a held one), O older than the floor (counts for nobody),
-- D dropped (the bound), and with an alias: R route to the customer, F held before the alias (the alias folded it: do
-- not apply it again).
local floor = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
-- X's events: ids[i], values[i] (`occurred_at,web type index`, as held), ats[i] (occurred_at)
local function unpack_events(s)
  local ids, values, ats, p = {}, {}, {}, 1
  while p <= #s do
    local _, e, at, t, len = string.find(s, '^(%d+),(%d+),(%d+):', p)
    local n = #ids + 1
    ids[n] = string.sub(s, e + 1, e + tonumber(len))
    values[n] = at .. ',' .. t
    ats[n] = tonumber(at)
    p = e + tonumber(len) + 1
  end
  return ids, values, ats
end
local out = {}
for k = 1, #KEYS / 2 do
  local aid, held = KEYS[2 * k - 1], KEYS[2 * k]
  local ids, values, ats = unpack_events(ARGV[3 + k])
  local decisions = {}
  local alias = redis.call('HMGET', aid, 'c', 't')
  if alias[1] then
    for i = 1, #ids do
      if redis.call('HEXISTS', held, ids[i]) == 1 then decisions[#decisions + 1] = 'F'
      else decisions[#decisions + 1] = 'R' end
    end
    out[#out + 1] = alias[1]
    out[#out + 1] = alias[2]
  else
    local min = tonumber(redis.call('HGET', held, '_min') or '0')
    if min < floor and redis.call('EXISTS', held) == 1 then
      -- Prune: rare (only when the floor passed the oldest held event), so the whole hash is read at most then.
      local all = redis.call('HGETALL', held)
      local newMin = nil
      for i = 1, #all, 2 do
        if all[i] ~= '_min' then
          local at = tonumber(string.match(all[i + 1], '^(%d+)'))
          if at < floor then redis.call('HDEL', held, all[i])
          elseif newMin == nil or at < newMin then newMin = at end
        end
      end
      if newMin then redis.call('HSET', held, '_min', newMin) else redis.call('DEL', held) end
      min = newMin or 0
    end
    -- Fields in the hash (`_min` included): kept here instead of an HLEN per event.
    local count = redis.call('HLEN', held)
    local stored = false
    for i = 1, #ids do
      local at = ats[i]
      if at < floor then
        decisions[#decisions + 1] = 'O'
      elseif count > cap then
        if redis.call('HEXISTS', held, ids[i]) == 1 then decisions[#decisions + 1] = 'H'
        else decisions[#decisions + 1] = 'D' end
      else
        -- HSETNX: 1 when newly held, 0 when held already (a redelivery or a duplicate): H either way.
        if redis.call('HSETNX', held, ids[i], values[i]) == 1 then
          count = count + 1
          stored = true
          if min == 0 or at < min then
            min = at
            count = count + redis.call('HSET', held, '_min', at)
          end
        end
        decisions[#decisions + 1] = 'H'
      end
    end
    if stored then redis.call('PEXPIRE', held, ARGV[3]) end
    out[#out + 1] = ''
    out[#out + 1] = '0'
  end
  out[#out + 1] = table.concat(decisions)
end
return out
