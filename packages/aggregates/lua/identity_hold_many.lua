-- The anonymous web events of a batch, for many anonymous ids in one call (design-decisions §22); each id X in its own
-- slot, so in Redis Cluster a call holds the ids of one slot only (the caller groups them). Per X: held under X while X
-- has no alias, routed to the customer once it has. Atomic per call, so per X like a call of its own.
-- KEYS[2k-1] X_k's alias hash (<prefix>:{anon:X}:aid)   KEYS[2k] X_k's held events (<prefix>:{anon:X}:anon: hash event
-- id -> `occurred_at,web type index`, and the meta field '' (the empty name: no event id is blank) =
-- `<a lower bound of the held occurred_at>,<when its expiry was set (epoch ms)>`, and once X is aliased
-- the marker ' ' = `<alias time>,<customer>`, written by identity_alias-2.lua into a held hash that exists then).
-- The alias hash is read only for a held hash without this build's meta (absent, or a previous build's): a hash with
-- the meta and no marker has no alias (the hold creates the meta only after reading the alias hash, and an alias
-- since wrote the marker).
-- Read too, from the previous builds (no '' field): the meta in `_min`, as `<bound>,<expiry set>` or `<bound>` alone
-- (its expiry is set again at the next hold); the next hold that stores events moves it to ''. In such a hash a
-- field `_min` is the meta, never an event (an event with that id was not held then); with '' it is an event.
-- ARGV[1] floor: events older than this are not held (no alias still to come can fold them: its time is at least the
-- identity watermark, and it folds back to its time - the horizon); held events older than it are pruned
-- ARGV[2] most events held per anonymous id (a memory bound; beyond it events are dropped and reported)
-- ARGV[3] expiry of the held events (ms, set again by a hold that stores events at most once per ARGV[4] ms: a held
-- hash lives between ARGV[3] - ARGV[4] and ARGV[3] after its last stored event)
-- ARGV[4] how often the expiry is set again (ms)   ARGV[5] now (epoch ms)
-- ARGV[5 + k] X_k's events of the batch, in delivery order, packed: per event `<occurred_at>,<web type index>,<byte
-- length of the event id>:<event id>` (one argument per id: the arguments' count, not their bytes, is what costs)
-- Returns {decisions, k, customer, alias time, k, customer, alias time, ...}: decisions = per X_k, in KEYS order, its
-- events' decisions joined by ','; then per X_k that has an alias: k, the customer and the alias time. Decisions, one
-- letter per event: H held now (or a copy of a held one), O older than the floor (counts for nobody),
-- D dropped (the bound), and with an alias: R route to the customer, F held before the alias (the alias folded it: do
-- not apply it again).
local floor = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local refresh = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
-- Buffers shared by the ids of the call (a table per id and use cost more than the reads and writes): X's events
-- ids[i], values[i] (`occurred_at,web type index`, as held), ats[i] (occurred_at), i <= n; got[i]: held already;
-- pairs[1..np]: fields and values to write.
local ids, values, ats, got, pairs = {}, {}, {}, {}, {}
local n, np = 0, 0
local function unpack_events(s)
  local p, len = 1, #s
  n = 0
  while p <= len do
    local _, e, at, t, size = string.find(s, '^(%d+),(%d+),(%d+):', p)
    n = n + 1
    size = tonumber(size)
    ids[n] = string.sub(s, e + 1, e + size)
    values[n] = at .. ',' .. t
    ats[n] = tonumber(at)
    p = e + size + 1
  end
end
-- Fields per HMGET / HSET (Lua's unpack has a limit of about 8,000 values).
local CHUNK = 1000
-- X's meta (the '' field, else the previous builds' `_min`: legacy = true) and its alias marker; got[i] whether
-- event i's id is held already (one HMGET unless X has more than CHUNK events). In a legacy hash `_min` is the meta.
local function read_held(held)
  local first = redis.call('HMGET', held, '', '_min', ' ', unpack(ids, 1, math.min(n, CHUNK)))
  local legacy = not first[1] and first[2] and true or false
  for i = 1, math.min(n, CHUNK) do got[i] = first[i + 3] end
  for i = CHUNK + 1, n, CHUNK do
    local part = redis.call('HMGET', held, unpack(ids, i, math.min(n, i + CHUNK - 1)))
    for j = 1, #part do got[i + j - 1] = part[j] end
  end
  if legacy then
    for i = 1, n do
      if ids[i] == '_min' then got[i] = false end
    end
  end
  return first[1] or first[2], legacy, first[3]
end
-- The meta's parts: bound, and when the expiry was set (nil: not by this build's rules).
local function parse_meta(m)
  local a, b = string.match(m, '^(%d+),?(%d*)')
  return tonumber(a) or 0, tonumber(b)
end
-- The decisions of all ids, letters and ',' between ids; the aliased ids' k, customer, alias time.
local out, no, aliased = {}, 0, {}
for k = 1, #KEYS / 2 do
  local aid, held = KEYS[2 * k - 1], KEYS[2 * k]
  unpack_events(ARGV[5 + k])
  if k > 1 then
    no = no + 1
    out[no] = ','
  end
  local m, legacy, marker = read_held(held)
  local customer, aliasAt = false, false
  if marker then
    aliasAt, customer = string.match(marker, '^(%d+),(.*)$')
  elseif not m or legacy then
    local alias = redis.call('HMGET', aid, 'c', 't')
    customer, aliasAt = alias[1], alias[2]
  end
  if customer then
    for i = 1, n do
      no = no + 1
      out[no] = got[i] and 'F' or 'R'
    end
    aliased[#aliased + 1] = k
    aliased[#aliased + 1] = customer
    aliased[#aliased + 1] = aliasAt
  else
    local min, set, count = 0, nil, 0
    if m then
      min, set = parse_meta(m)
      -- Events held: the hash's fields but the meta (no marker: X has no alias).
      count = redis.call('HLEN', held) - 1
    end
    local oldMin, oldSet = min, set
    -- Pruned: events deleted (the meta is written again even when nothing is stored).
    local pruned = false
    if m and min < floor then
      -- Prune: rare (only when the floor passed the oldest held event), so the whole hash is read at most then.
      local all = redis.call('HGETALL', held)
      local newMin = nil
      count = 0
      for i = 1, #all, 2 do
        local f = all[i]
        if f ~= '' and f ~= ' ' and not (legacy and f == '_min') then
          local at = tonumber(string.match(all[i + 1], '^(%d+)'))
          if at < floor then redis.call('HDEL', held, f)
          else
            count = count + 1
            if newMin == nil or at < newMin then newMin = at end
          end
        end
      end
      if newMin then
        min, pruned = newMin, true
      else
        redis.call('DEL', held)
        min, set, count, oldMin, oldSet = 0, nil, 0, 0, nil
      end
      m, legacy, marker = read_held(held)
    end
    np = 0
    -- Ids stored by this call (copies within it: the first one stays); only for more than one event.
    local new = n > 1 and {} or nil
    for i = 1, n do
      local at, letter = ats[i], 'H'
      if at < floor then
        letter = 'O'
      elseif got[i] or (new and new[ids[i]]) then
        -- Held already (a redelivery, or a copy): H.
      elseif count >= cap then
        letter = 'D'
      else
        if new then new[ids[i]] = true end
        pairs[np + 1] = ids[i]
        pairs[np + 2] = values[i]
        np = np + 2
        count = count + 1
        if min == 0 or at < min then min = at end
      end
      no = no + 1
      out[no] = letter
    end
    -- Stored events set the expiry again, at most once per ARGV[4] ms (when the meta says it was set longer ago).
    local expire = np > 0 and (set == nil or set + refresh <= now)
    if expire then set = now end
    -- The meta is written when it changes (a previous build's moves to '' then; then `_min` may be an event: one of
    -- this call's pairs, set after) or events were pruned; nothing is written when nothing changed.
    if (np > 0 or pruned) and (min ~= oldMin or set ~= oldSet or legacy or pruned) then
      if legacy then redis.call('HDEL', held, '_min') end
      pairs[np + 1] = ''
      pairs[np + 2] = min .. ',' .. (set or '')
      np = np + 2
    end
    for i = 1, np, 2 * CHUNK do
      redis.call('HSET', held, unpack(pairs, i, math.min(np, i + 2 * CHUNK - 1)))
    end
    if expire then redis.call('PEXPIRE', held, ARGV[3]) end
  end
end
return {table.concat(out, '', 1, no), unpack(aliased)}
