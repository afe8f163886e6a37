-- The anonymous web events of a batch, for many anonymous ids in one call (design-decisions §22); each id X in its own
-- slot, so in Redis Cluster a call holds the ids of one slot only (the caller groups them). Per X: held under X while X
-- has no alias, routed to the customer once it has. Atomic per call, so per X like a call of its own.
-- KEYS[2k-1] X_k's alias hash (<prefix>:{anon:X}:aid: `c`, `e`, `t` once aliased, identity_alias-2.lua)
-- KEYS[2k] X_k's held events (<prefix>:{anon:X}:anon). While X has no alias: a string of entries `<occurred_at>,<web
-- type index>,<byte length of the event id>:<event id>`, appended in delivery order; a redelivered event or a
-- producer's copy is appended again (readers keep an id's first entry: the alias fold, heldCount, the bound). Once X
-- is aliased: a hash event id -> `occurred_at,web type index` of the events held before the alias, and '' = 'folded',
-- kept for the F decisions as long as identity_alias-2.lua says (its ARGV[5]), or nothing. A previous build's held
-- hash (meta '' or `_min`, alias marker ' ') is read as such, and made a string at X's next hold when X has no alias.
-- So the common case is one APPEND per X: a hash there (APPEND refused) means aliased or a previous build's; a string
-- created by the APPEND means X is new (or its folded hash expired): then the alias hash is read.
-- ARGV[1] most bytes held per anonymous id (a memory bound; beyond it events are dropped and reported; APPEND's spare
-- room can make the allocation up to twice as large until the next compaction)
-- ARGV[2] expiry of the held string (ms), set when it is created and when ARGV[3 + k] asks (the caller asks until a
-- hold that stored or kept events succeeded that UTC day: a held string lives at least ARGV[2] - a day after X's last
-- event at or above the floor)
-- ARGV[3] the floor (epoch ms): events older than it are not held (no alias still to come can fold them: its time is
-- at least the identity watermark, and it folds back to its time - the horizon); at the bound, held ones are pruned
-- ARGV[3 + k] X_k's events of the batch, in delivery order: `<n>,<1: set the expiry again, else 0>,<1: none below the
-- floor, else 0>,<1: the caller saw X at the bound, else 0>|` then the n entries as held
-- Returns {decisions, k, customer, alias time, k, customer, alias time, ...}: decisions = per X_k, in KEYS order, its
-- events' decisions joined by ','; then per X_k that has an alias: k, the customer and the alias time. Decisions, one
-- letter per event: H held (now, or a copy of a held one), O older than the floor (counts for nobody), D dropped (the
-- bound), and with an alias: R route to the customer, F held before the alias (the alias folded it: do not apply it
-- again).
local cap = tonumber(ARGV[1])
local ttl = ARGV[2]
local floor = tonumber(ARGV[3])
local ENTRY = '^(%d+),%d+,(%d+):'
-- The entries of a held string: f(id, occurred_at, entry) for each, in order (the bound's marker, an entry with an
-- empty id, skipped).
local function each_entry(s, f)
  local p, len = 1, #s
  while p <= len do
    local _, e, at, size = string.find(s, ENTRY, p)
    local stop = e + tonumber(size)
    if stop > e then f(string.sub(s, e + 1, stop), tonumber(at), string.sub(s, p, stop)) end
    p = stop + 1
  end
end
-- A previous build's held hash of an id without alias, as a string of entries (its meta and marker skipped).
local function from_legacy(held)
  local all = redis.call('HGETALL', held)
  local legacy = true
  for i = 1, #all, 2 do
    if all[i] == '' then legacy = false end
  end
  local parts = {}
  for i = 1, #all, 2 do
    local f = all[i]
    if f ~= '' and f ~= ' ' and not (legacy and f == '_min') then
      local at, t = string.match(all[i + 1], '^(%d+),(%d+)')
      parts[#parts + 1] = at .. ',' .. t .. ',' .. #f .. ':' .. f
    end
  end
  return table.concat(parts)
end
-- At the bound (the held string is longer than ARGV[1] after appending `add` to its `before` bytes): the entries held
-- before, each id once and none older than the floor, then `add`'s entries while they fit (a copy of a held id: H).
-- When some did not fit, the string starts with the marker `<oldest time kept>,0,0:` (an empty id): until the floor
-- passes that time, compacting again frees nothing, and a hold told the id is full (`full`) drops without it.
local function bound(held, before, add)
  local s = redis.call('GET', held)
  local seen, parts, np, bytes, oldest = {}, {''}, 1, 0, nil
  local function keep(id, at, entry)
    seen[id] = true
    np = np + 1
    parts[np] = entry
    bytes = bytes + #entry
    if oldest == nil or at < oldest then oldest = at end
  end
  each_entry(string.sub(s, 1, before), function(id, at, entry)
    if at >= floor and not seen[id] then keep(id, at, entry) end
  end)
  local letters, dropped = {}, false
  each_entry(add, function(id, at, entry)
    if seen[id] then
      letters[#letters + 1] = 'H'
    elseif bytes + #entry > cap then
      letters[#letters + 1] = 'D'
      dropped = true
    else
      keep(id, at, entry)
      letters[#letters + 1] = 'H'
    end
  end)
  if dropped and oldest then parts[1] = oldest .. ',0,0:' end
  if np > 1 then redis.call('SET', held, table.concat(parts, '', 1, np), 'KEEPTTL') else redis.call('DEL', held) end
  return table.concat(letters)
end
-- Fields per HMGET (Lua's unpack has a limit of about 8,000 values).
local CHUNK = 1000
-- X aliased: its events held before the alias (in the hash at `held`, if any) F, the others R.
local function routed(held, add, hash)
  local ids, letters = {}, {}
  each_entry(add, function(id) ids[#ids + 1] = id end)
  for i = 1, #ids, CHUNK do
    local got = hash and redis.call('HMGET', held, unpack(ids, i, math.min(#ids, i + CHUNK - 1))) or {}
    for j = i, math.min(#ids, i + CHUNK - 1) do
      letters[j] = got[j - i + 1] and 'F' or 'R'
    end
  end
  return table.concat(letters)
end
-- X's events `add` (n entries) held, unless X is aliased: its letters, and its alias (customer, time) if any. `full`:
-- the caller saw X at the bound: when its marker says that compacting frees nothing and `add` does not fit, all D
-- without a write (a copy of a held event is D then, not H: neither is applied).
local function hold(aid, held, add, n, refresh, full)
  if full == '1' then
    local head = redis.pcall('GETRANGE', held, 0, 40)
    local marker, oldest = nil, nil
    if type(head) == 'string' then marker, oldest = string.match(head, '^((%d+),%d+,0:)') end
    if oldest and floor <= tonumber(oldest) and redis.call('STRLEN', held) - #marker + #add > cap then
      if refresh == '1' then redis.call('PEXPIRE', held, ttl) end
      return string.rep('D', n), nil
    end
  end
  local r = redis.pcall('APPEND', held, add)
  if type(r) ~= 'number' then
    if not string.find(r.err, 'WRONGTYPE', 1, true) then error(r) end
    -- A hash: X's folded events (aliased), or a previous build's held hash (aliased or not).
    local alias = redis.call('HMGET', aid, 'c', 't')
    if alias[1] then return routed(held, add, true), alias end
    local legacy = from_legacy(held)
    redis.call('DEL', held)
    if #legacy > 0 then redis.call('SET', held, legacy) end
    r = redis.call('APPEND', held, add)
    redis.call('PEXPIRE', held, ttl)
  elseif r == #add then
    -- Created now: X is new, or aliased with its folded events gone.
    local alias = redis.call('HMGET', aid, 'c', 't')
    if alias[1] then
      redis.call('DEL', held)
      return routed(held, add, false), alias
    end
    redis.call('PEXPIRE', held, ttl)
  elseif refresh == '1' then
    redis.call('PEXPIRE', held, ttl)
  end
  return r > cap and bound(held, r - #add, add) or string.rep('H', n), nil
end
local out, no, aliased = {}, 0, {}
for k = 1, #KEYS / 2 do
  local aid, held = KEYS[2 * k - 1], KEYS[2 * k]
  local s = ARGV[3 + k]
  local n, refresh, whole, full, body = string.match(s, '^(%d+),(%d),(%d),(%d)|()')
  local add = string.sub(s, body)
  if k > 1 then
    no = no + 1
    out[no] = ','
  end
  local letters, alias
  if whole == '1' then
    letters, alias = hold(aid, held, add, tonumber(n), refresh, full)
  else
    -- Some events below the floor: routed like the others when X is aliased (its alias may be older than the
    -- watermark), else O; the others held.
    alias = redis.call('HMGET', aid, 'c', 't')
    if alias[1] then
      letters = routed(held, add, true)
    else
      -- (X has no alias: hold finds none either.)
      alias = nil
      local kept, marks = {}, {}
      each_entry(add, function(_, at, entry)
        if at >= floor then kept[#kept + 1] = entry end
        marks[#marks + 1] = at >= floor
      end)
      local got = #kept > 0 and hold(aid, held, table.concat(kept), #kept, refresh, full) or ''
      local parts, j = {}, 0
      for i = 1, #marks do
        if marks[i] then
          j = j + 1
          parts[i] = string.sub(got, j, j)
        else
          parts[i] = 'O'
        end
      end
      letters = table.concat(parts)
    end
  end
  if alias then
    aliased[#aliased + 1] = k
    aliased[#aliased + 1] = alias[1]
    aliased[#aliased + 1] = alias[2]
  end
  no = no + 1
  out[no] = letters
end
return {table.concat(out, '', 1, no), unpack(aliased)}
