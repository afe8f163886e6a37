-- Applies customers' events of a batch to their aggregate hashes, atomically and idempotently: one or more customers
-- per call (in Redis Cluster all of one slot), each as if it had a call of its own.
--
-- KEYS[k]  customer k's hash (`<prefix>:{<customerId>}:agg`)
-- KEYS[n+k] (optional, all or none; n customers) customer k's suppression marker (`<prefix>:{<customerId>}:erased`):
--   while it exists the customer's events are not applied (erasure, docs/security.md): zeros are returned for it
-- KEYS[2n+k] (optional, all or none, only with the markers) customer k's identity hash (`<prefix>:{<customerId>}:idn`,
--   docs/design-decisions.md §22): when it has `to` (merged into another customer) nothing is applied and the
--   customer's `applied` is -2 (MOVED): the caller routes its records again (to the survivor, or dropped when the
--   merged customer had applied them before its merge)
-- ARGV[1]  dedupe horizon in ms;  ARGV[2] retention in days (buckets kept for days > maxDay - retention), then `p`
--   for the packed layout
-- ARGV[3..] per customer, in KEYS order: its number of events n, then its n events, 2 arguments each, in delivery order: `topic,partition,offset,occurred_at_ms,op,x2,x3,x1` and
--   `<fingerprint><event_id>` (x1 last: a ticket id may contain commas; only the first 7 commas separate fields):
--   fingerprint = 9 base-128 digits (bytes 0..127) of a 63-bit hash of the event_id (keyspace.ts eventFingerprint);
--   the event_id itself follows only for order and ticket events (refund identity, ticket tie-break), not for web
--   op P/R/C (order PLACED/REFUNDED/CANCELLED): x1 `amount,<byte length of order_id>:<order_id><refund_id>`
--        (amount in reporting minor units; refund_id empty unless a REFUNDED carries one), x2 margin or '',
--        x3 bucket time (occurred_at for P, original_placed_at for R/C)
--   op W (web): x1 type index (0-based, WEB_BEHAVIOR_TYPES order)
--   op T (ticket): x1 ticket_id, x2 O|E|P|R|C|S (OPENED ESCALATED REOPENED RESOLVED CLOSED SATISFACTION_RATED),
--        x3 '1' for a COMPLAINT OPENED, the csat value for S, else ''
--   op M (a customer's web events of one partition merged by the client, its only record; keyspace.ts
--        encodeCustomerInto): offset = the first offset, occurred_at = the latest, x2 = the last offset, x3 = the
--        earliest occurred_at, x1 = one web record per day (encode_web_record: the day's counts and latest ms); the
--        second argument = the events' dedupe entries (fingerprint + occurred_at digits, duplicates within the call
--        removed). Applied only when every event passes (none at or below the high-water offset, no fingerprint
--        remembered), else nothing is written and the customer's result is CONFLICT: the client sends its events
--        again one by one. All at or below the high-water offset: nothing applied (a redelivery).
-- Returns per customer, in KEYS order, 5 numbers (applied = -1: CONFLICT, see op M; -2: MOVED, see KEYS[2n+k]):
--   {applied, min occurred_at applied, max occurred_at applied, refund excess, expired reversals}: the first three
--   0 when nothing was applied; refund excess = minor units refunded beyond their orders' amounts that this call
--   found (capped away, no revenue effect); expired reversals = refunds/cancellations of orders older than the kept
--   order states (no effect). Both are anomalies the caller reports (docs/design-decisions.md §15).
--
-- Hash fields (see README "Keyspace", design-decisions §23): mx fo ob pd wb tb lb, w (web days, packed),
-- a:<order day>:<effective day>, o:<day> t:<day>, k:<ticket> q:<ticket>, h:<topic code>:<partition>,
-- e:<topic code> (the topic's dedupe memory, packed), n:<order_id> (order state), u:<len>:<order_id><refund key>.
-- Packed layout (ARGV[2] ends in `p`, see DAY BUCKETS, ticket state, order states and compact web days below): o
-- (order days), t (service days), K:<ticket> instead of o:<day>, t:<day>, k:<ticket> q:<ticket>; W (web days, gaps for
-- days) instead of w; n:<order_id> values compact (a flags byte below 32, then digits). Both forms are read in either
-- mode.
-- Read too, from the previous layout (an upgrade without a replay): h:<topic>:<partition> (moved to the new name),
-- w:<day> (kept, folded like before), x:<topic code> and e:<topic code>:<event_id> (dropped: see §23 "Upgrade").
--
-- SUPPRESSION (erasure, security): see the loop at the end of this script.

local horizon = tonumber(ARGV[1])
-- ARGV[2]: the retention in days, followed by `p` for packed order and service days (see DAY BUCKETS below).
local pack = string.sub(ARGV[2], -1) == 'p'
local retention = tonumber(pack and string.sub(ARGV[2], 1, -2) or ARGV[2])
local DAY = 86400000

-- The customer being applied (set by the loop at the end of this script for each key): its key; the field cache
-- (value string, or false when known absent; nil = not read yet: only the fields its events need are read, one HMGET
-- up front, HGET for any other, not the whole hash: a customer's hash holds hundreds of day buckets) and the fields
-- written; `lb`, the latest event time and the retention cutoff at the start; what it applied; its web deltas and
-- dedupe memories.
-- `fresh`: the customer's hash did not exist when the call began (no `mx` in the preread, then EXISTS 0): every field
-- not in the cache is known absent, so nothing else is read (the previous layout's high-water and x:<code> fields,
-- base fields, the fold scan's HGETALL).
local key, cache, dirty, fresh
local lower_bound, mx, initial_cutoff
local applied, min_at, max_at, excess, expired
local web_delta, dedupe, conflict
local function get(f)
  local v = cache[f]
  if v == nil then
    if fresh then v = false else v = redis.call('HGET', key, f) end
    cache[f] = v
  end
  if v == false then return nil end
  return v
end
local function set(f, v) cache[f] = v; dirty[f] = true end
local function del(f) cache[f] = false; dirty[f] = true end
-- Adds fields read by a scan (HSCAN/HGETALL reply) to the cache without overriding what this call read or wrote.
local function merge(raw)
  for i = 1, #raw, 2 do
    if cache[raw[i]] == nil then cache[raw[i]] = raw[i + 1] end
  end
end

local function split(s)
  local t, n, start = {}, 0, 1
  while true do
    local i = string.find(s, ',', start, true)
    n = n + 1
    if not i then t[n] = string.sub(s, start); return t end
    t[n] = string.sub(s, start, i - 1)
    start = i + 1
  end
end
-- Integers as plain digits (tostring would switch to exponent notation above 1e14).
local function fmt(x)
  if x == math.floor(x) then return string.format('%d', x) end
  return string.format('%.17g', x)
end
local function num(s) if s == nil or s == '' then return 0 end return tonumber(s) end
local function opt(s) if s == nil or s == '' then return nil end return tonumber(s) end
local function day_of(ms) return math.floor(ms / DAY) end
-- Drop trailing numeric-zero / empty elements: most buckets only use their first columns. Time columns are passed
-- as strings, so a real time of 0 ms ('0') is kept.
local function join_trim(t, n)
  while n > 1 and (t[n] == 0 or t[n] == '') do n = n - 1 end
  local parts = {}
  for i = 1, n do
    local v = t[i]
    if type(v) == 'number' then parts[i] = fmt(v) else parts[i] = v end
  end
  return table.concat(parts, ',')
end
local function descending(a, b) return a > b end
-- Offsets are decimal strings up to 2^63: compare by length, then bytes (no float rounding).
local function offset_gt(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
-- Byte-wise string order (event_id tie-break), independent of the server's collation locale.
local function str_gt(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a > #b
end

-- Base-128 digits: bytes 0..127 are ASCII, so clients read packed values back unchanged as UTF-8 strings.
-- (The usual widths, 2, 3, 4 and 7 digits, without a table or a loop: the same digits.)
local floor, char, byte = math.floor, string.char, string.byte
local function enc128(x, n)
  if n == 3 then
    local c = x % 128; x = floor(x / 128)
    local b = x % 128; x = floor(x / 128)
    return char(x % 128, b, c)
  elseif n == 4 then
    local d = x % 128; x = floor(x / 128)
    local c = x % 128; x = floor(x / 128)
    local b = x % 128; x = floor(x / 128)
    return char(x % 128, b, c, d)
  elseif n == 7 then
    local g = x % 128; x = floor(x / 128)
    local f = x % 128; x = floor(x / 128)
    local e = x % 128; x = floor(x / 128)
    local d = x % 128; x = floor(x / 128)
    local c = x % 128; x = floor(x / 128)
    local b = x % 128; x = floor(x / 128)
    return char(x % 128, b, c, d, e, f, g)
  end
  local b = {}
  for k = n, 1, -1 do b[k] = x % 128; x = floor(x / 128) end
  return char(unpack(b))
end
local function dec128(s, i, n)
  if n == 2 then
    local a, b = byte(s, i, i + 1)
    return a * 128 + b
  elseif n == 3 then
    local a, b, c = byte(s, i, i + 2)
    return (a * 128 + b) * 128 + c
  elseif n == 4 then
    local a, b, c, d = byte(s, i, i + 3)
    return ((a * 128 + b) * 128 + c) * 128 + d
  elseif n == 7 then
    local a, b, c, d, e, f, g = byte(s, i, i + 6)
    return (((((a * 128 + b) * 128 + c) * 128 + d) * 128 + e) * 128 + f) * 128 + g
  end
  local x = 0
  for k = i, i + n - 1 do x = x * 128 + byte(s, k) end
  return x
end
-- Times as 7 digits (49 bits) biased by 2^48, days as 3 digits biased by 2^20: dates before 1970 included.
local TIME_BIAS = 281474976710656
local DAY_BIAS = 1048576
local FP_LEN = 9
local ENTRY_LEN = FP_LEN + 7

-- Short per-topic codes (4 hex digits of the topic name's SHA-1) keep the per-event dedupe fields small.
local topic_codes = {}
-- The field names of one topic-partition (made once per call): { hf = its high-water field, ef = the topic's dedupe
-- field, tc = the topic code, topic, partition } (names_of[topic][partition]).
local names_of = {}
local function names(topic, partition)
  local by_partition = names_of[topic]
  if by_partition == nil then by_partition = {}; names_of[topic] = by_partition end
  local nm = by_partition[partition]
  if nm == nil then
    local tc = topic_codes[topic]
    if tc == nil then tc = string.sub(redis.sha1hex(topic), 1, 4); topic_codes[topic] = tc end
    nm = { hf = 'h:' .. tc .. ':' .. partition, ef = 'e:' .. tc, tc = tc, topic = topic, partition = partition }
    by_partition[partition] = nm
  end
  return nm
end
-- Per event (by half its first ARGV index, rounded down: a customer's first index is odd or even by turns, and
-- consecutive integers keep the arrays dense, not hash parts): its topic-partition's names, fingerprint, event_id.
local ev_names, ev_fp, ev_eid = {}, {}, {}
-- Per event: the unpacked fields (offset, occurred_at as a number, op, x1, x2, x3).
local ev_offset, ev_at, ev_op, ev_x1, ev_x2, ev_x3 = {}, {}, {}, {}, {}, {}
-- Per order event: its order id, refund key and amount (order_identity of its x1, made by preread).
local ev_oid, ev_rkey, ev_amount = {}, {}, {}

-- An order event's x1: `amount,<len>:<order_id><refund_id>`. Returns the amount, the order id and the refund key
-- ('r' .. refund_id, or 'e' .. event_id when the refund has no id of its own).
local function order_identity(x1, eid)
  local comma = string.find(x1, ',', 1, true)
  local colon = string.find(x1, ':', comma + 1, true)
  local len = tonumber(string.sub(x1, comma + 1, colon - 1))
  local oid = string.sub(x1, colon + 1, colon + len)
  local rid = string.sub(x1, colon + len + 1)
  local rkey
  if rid == '' then rkey = 'e' .. eid else rkey = 'r' .. rid end
  return oid, rkey, tonumber(string.sub(x1, 1, comma - 1))
end
-- The field remembering one refund of an order (its identity): length-prefixed, so ids may contain any character.
local function refund_field(oid, rkey) return 'u:' .. #oid .. ':' .. oid .. rkey end

-- Read up front, in one HMGET, every field the events (ARGV[first..last]) can touch.
-- want: the fields (want_seen: those listed, for the order and ticket fields; the base, high-water and dedupe fields
-- are listed once without it).
local want, want_seen
local function want_field(f)
  if want_seen == nil then
    want_seen = {}
    for k = 1, #want do want_seen[want[k]] = true end
  end
  if not want_seen[f] then want_seen[f] = true; want[#want + 1] = f end
end
local function preread(first, last)
  -- Base fields only some paths need (fo ob pd wb tb: folds, old events) are read when needed (get).
  want, want_seen = { 'mx', 'lb' }, nil
  local want_web, prev = false, nil
  for i = first, last, 2 do
    local e = (i - i % 2) / 2
    local packed, id = ARGV[i], ARGV[i + 1]
    local topic, partition, offset, at_s, op, x2, x3, x1 =
      string.match(packed, '^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),(.*)$')
    local at = tonumber(at_s)
    ev_offset[e], ev_at[e], ev_op[e], ev_x1[e], ev_x2[e], ev_x3[e] = offset, at, op, x1, x2, x3
    if op == 'M' then
      ev_fp[e], ev_eid[e] = nil, id
    else
      ev_fp[e], ev_eid[e] = string.sub(id, 1, FP_LEN), string.sub(id, FP_LEN + 1)
    end
    local nm = prev
    if nm == nil or nm.topic ~= topic or nm.partition ~= partition then
      nm = names(topic, partition)
      if prev == nil then
        want[3], want[4] = nm.hf, nm.ef
      else
        want_field(nm.hf)
        want_field(nm.ef)
      end
      prev = nm
    end
    ev_names[e] = nm
    if op == 'P' or op == 'R' or op == 'C' then
      local od = day_of(tonumber(x3))
      want_field('o')
      want_field('o:' .. od)
      if op ~= 'P' then want_field('a:' .. od .. ':' .. day_of(at)) end
      local oid, rkey, amount = order_identity(x1, ev_eid[e])
      ev_oid[e], ev_rkey[e], ev_amount[e] = oid, rkey, amount
      want_field('n:' .. oid)
      if op == 'R' then want_field(refund_field(oid, rkey)) end
    elseif op == 'W' or op == 'M' then
      if not want_web then
        want_web = true
        if want_seen == nil then want[#want + 1] = 'w'; want[#want + 1] = 'W' else want_field('w'); want_field('W') end
      end
    elseif op == 'T' then
      want_field('t')
      want_field('t:' .. day_of(at))
      want_field('K:' .. x1)
      want_field('k:' .. x1)
      want_field('q:' .. x1)
    end
  end
  -- In chunks: unpack() is limited by the Lua C stack (8000).
  for from = 1, #want, 4000 do
    local to = math.min(from + 3999, #want)
    local vals = redis.call('HMGET', key, unpack(want, from, to))
    for i = from, to do cache[want[i]] = vals[i - from + 1] end
  end
  -- A customer without `mx` has never had an event applied; if its hash does not exist at all, nothing else is read.
  fresh = cache.mx == false and redis.call('EXISTS', key) == 0
end

-- `lb`: a lower bound of the days at which fields become foldable (bucket days, adjustments' effective days, CLOSED
-- tickets' status days), so that the fold scan below runs only when something can fold. Absent = unknown.
local function lower_bound_to(d)
  if lower_bound ~= nil and d < lower_bound then lower_bound = d; set('lb', fmt(d)) end
end

local function cutoff_day() if mx == nil then return nil end return day_of(mx) - retention end

-- DAY BUCKETS of orders and service (design-decisions §23 "Order and service days packed"). With packed writes
-- (ARGV[2] ends in `p`) a customer's order days are one field `o` and its service days one field `t`, records latest
-- day first; without, one field per day (`o:<day>`, `t:<day>`, the previous layout). Both forms are read in either
-- mode: a day found in both (an upgrade in progress, or an identity fold that added a day field) is added up, and a
-- day this call writes leaves the other form. A day whose values cannot be packed (not integers) stays a day field.
-- Unsigned integers as varints (6 bits per byte, low group first, +64 = more follows); signed ones zigzagged (2x, or
-- -2x-1 when negative). All bytes are 0..127: clients read the values back unchanged.
local function enc_var(x)
  -- Up to four bytes without a table (counts, gaps, masks, amounts).
  if x < 64 then return string.char(x) end
  if x < 4096 then return string.char(x % 64 + 64, math.floor(x / 64)) end
  -- Three and four bytes (amounts and their sums in minor units) the same way.
  if x < 262144 then return string.char(x % 64 + 64, math.floor(x / 64) % 64 + 64, math.floor(x / 4096)) end
  if x < 16777216 then
    return string.char(x % 64 + 64, math.floor(x / 64) % 64 + 64, math.floor(x / 4096) % 64 + 64,
      math.floor(x / 262144))
  end
  local cs = {}
  repeat
    local b = x % 64
    x = (x - b) / 64
    if x > 0 then b = b + 64 end
    cs[#cs + 1] = b
  until x == 0
  return string.char(unpack(cs))
end
local function dec_var(s, i)
  local c, mul = 0, 1
  while true do
    local b = string.byte(s, i)
    i = i + 1
    if b < 64 then return c + b * mul, i end
    c = c + (b - 64) * mul
    mul = mul * 64
  end
end
local function enc_int(x)
  if x < 0 then return enc_var(-2 * x - 1) end
  return enc_var(2 * x)
end
local function dec_int(s, i)
  local x, nx = dec_var(s, i)
  if x % 2 == 1 then return -(x + 1) / 2, nx end
  return x / 2, nx
end
-- Integers exact in a double and in 2x; times of a day below 128^4 (4 digits).
local function int_ok(x) return x == math.floor(x) and x > -2 ^ 51 and x < 2 ^ 51 end
local function ms_ok(x) return x ~= nil and x == math.floor(x) and x >= 0 and x < 268435456 end

-- An order day: { c, r, m, live = { '<ms>' ... }, canc = { '<ms>@<cancelDay>' ... } } (the lists in the order the
-- previous layout kept them: its o:<day> = "count,revenue,margin,<live ms ...>,<ms@cancelDay ...>", §15).
-- Packed record: day (3 digits), count, revenue, margin (signed varints), 2 × the number of live times + 1 when there
-- are cancelled ones (varint), the live times (4 digits each), then, when there are, the number of cancelled ones
-- (varint) and for each its ms (4 digits) and cancel day (3 digits).
local function order_day_empty() return { c = 0, r = 0, m = 0, live = {}, canc = {} } end
local function words(s)
  local t = {}
  for x in string.gmatch(s or '', '[^ ]+') do t[#t + 1] = x end
  return t
end
local function order_day_parse(v)
  local t = split(v)
  return { c = num(t[1]), r = num(t[2]), m = num(t[3]), live = words(t[4]), canc = words(t[5]) }
end
local function order_day_legacy(b)
  return join_trim({ b.c, b.r, b.m, table.concat(b.live, ' '), table.concat(b.canc, ' ') }, 5)
end
local function order_day_add(b, o)
  b.c, b.r, b.m = b.c + o.c, b.r + o.r, b.m + o.m
  for _, x in ipairs(o.live) do b.live[#b.live + 1] = x end
  for _, x in ipairs(o.canc) do b.canc[#b.canc + 1] = x end
end
local function order_day_decode(s, i)
  local d = dec128(s, i, 3) - DAY_BIAS
  local b = { live = {}, canc = {} }
  b.c, i = dec_int(s, i + 3)
  b.r, i = dec_int(s, i)
  b.m, i = dec_int(s, i)
  local h
  h, i = dec_var(s, i)
  for k = 1, math.floor(h / 2) do b.live[k] = fmt(dec128(s, i, 4)); i = i + 4 end
  if h % 2 == 1 then
    local nc
    nc, i = dec_var(s, i)
    for k = 1, nc do
      b.canc[k] = fmt(dec128(s, i, 4)) .. '@' .. fmt(dec128(s, i + 4, 3) - DAY_BIAS)
      i = i + 7
    end
  end
  return d, b, i
end
-- The packed record, or nil when the day cannot be packed.
local function order_day_encode(d, b)
  if not (int_ok(b.c) and int_ok(b.r) and int_ok(b.m)) then return nil end
  local parts = { enc128(d + DAY_BIAS, 3), enc_int(b.c), enc_int(b.r), enc_int(b.m),
    enc_var(#b.live * 2 + (#b.canc > 0 and 1 or 0)) }
  for _, x in ipairs(b.live) do
    local ms = tonumber(x)
    if not ms_ok(ms) or fmt(ms) ~= x then return nil end
    parts[#parts + 1] = enc128(ms, 4)
  end
  if #b.canc > 0 then
    parts[#parts + 1] = enc_var(#b.canc)
    for _, x in ipairs(b.canc) do
      local ms_s, cd_s = string.match(x, '^(%d+)@(%-?%d+)$')
      local ms, cd = tonumber(ms_s), tonumber(cd_s)
      if not ms_ok(ms) or fmt(ms) ~= ms_s or cd == nil or fmt(cd) ~= cd_s or cd + DAY_BIAS < 0
        or cd + DAY_BIAS >= 2097152 then return nil end
      parts[#parts + 1] = enc128(ms, 4) .. enc128(cd + DAY_BIAS, 3)
    end
  end
  return table.concat(parts)
end

-- A service day: { ms = last ticket ms of the day, v = { tickets, complaints, escalations, csatSum, csatCount } }
-- (the previous layout's t:<day> = "ms,tickets,complaints,escalations,csatSum,csatCount"). Packed record: day
-- (3 digits), ms (4 digits), a mask (1 digit, bit k-1 = v[k] is not 0), the non-zero columns as varints.
local function service_day_empty() return { ms = 0, v = { 0, 0, 0, 0, 0 } } end
local function service_day_parse(v)
  local t = split(v)
  return { ms = num(t[1]), v = { num(t[2]), num(t[3]), num(t[4]), num(t[5]), num(t[6]) } }
end
local function service_day_legacy(b)
  return join_trim({ b.ms, b.v[1], b.v[2], b.v[3], b.v[4], b.v[5] }, 6)
end
local function service_day_add(b, o)
  if o.ms > b.ms then b.ms = o.ms end
  for k = 1, 5 do b.v[k] = b.v[k] + o.v[k] end
end
local function service_day_decode(s, i)
  local d = dec128(s, i, 3) - DAY_BIAS
  local b = { ms = dec128(s, i + 3, 4), v = { 0, 0, 0, 0, 0 } }
  local mask = string.byte(s, i + 7)
  i = i + 8
  for k = 1, 5 do
    if mask % 2 == 1 then b.v[k], i = dec_var(s, i) end
    mask = math.floor(mask / 2)
  end
  return d, b, i
end
local function service_day_encode(d, b)
  if not ms_ok(b.ms) then return nil end
  local mask, bit, cs = 0, 1, {}
  for k = 1, 5 do
    local x = b.v[k]
    if x ~= 0 then
      if x < 0 or x ~= math.floor(x) or x >= 2 ^ 51 then return nil end
      mask = mask + bit
      cs[#cs + 1] = enc_var(x)
    end
    bit = bit * 2
  end
  return enc128(d + DAY_BIAS, 3) .. enc128(b.ms, 4) .. string.char(mask) .. table.concat(cs)
end

local ORDER_DAYS = { field = 'o', prefix = 'o:', empty = order_day_empty, parse = order_day_parse,
  legacy = order_day_legacy, add = order_day_add, decode = order_day_decode, encode = order_day_encode }
local SERVICE_DAYS = { field = 't', prefix = 't:', empty = service_day_empty, parse = service_day_parse,
  legacy = service_day_legacy, add = service_day_add, decode = service_day_decode, encode = service_day_encode }

-- The customer's days of one kind read so far: { kind, days = { day -> bucket }, checked = { day: its day field was
-- looked for }, touched = { day: changed }, loaded (the packed field read), had (it existed), packed (its value),
-- pos (where its records not decoded yet start: latest day first, only the records down to the earliest day asked
-- for are decoded; the rest is written back as it is) }. Made when a call first touches a day (nil before).
local order_days, service_days
-- from = { day -> where its decoded record starts in `packed` }, to = { day -> where it ends }: a day decoded but not
-- changed is written back as those bytes, not encoded again (the same bytes).
local function day_set(kind)
  return { kind = kind, days = {}, checked = {}, touched = {}, loaded = false, from = {}, to = {} }
end
-- Every record of a packed value, as (day, bucket) to f.
local function each_record(kind, s, f)
  local i = 1
  while i <= #s do
    local d, b, nx = kind.decode(s, i)
    f(d, b)
    i = nx
  end
end
-- Decodes the packed records down to day d (all with d = nil).
local function load_days(set_, d)
  if not set_.loaded then
    set_.loaded = true
    set_.packed, set_.pos = get(set_.kind.field) or '', 1
    set_.had = set_.packed ~= ''
  end
  local s = set_.packed
  while set_.pos <= #s and (d == nil or dec128(s, set_.pos, 3) - DAY_BIAS >= d) do
    local day, b, nx = set_.kind.decode(s, set_.pos)
    set_.days[day] = b
    set_.from[day], set_.to[day] = set_.pos, nx - 1
    set_.pos = nx
  end
end
-- Day d's bucket, to change (created empty): its packed record and its day field (which leaves: it is written again
-- below in the mode's form) added up.
local function day_bucket(set_, d)
  load_days(set_, d)
  local kind, b = set_.kind, set_.days[d]
  if not set_.checked[d] then
    set_.checked[d] = true
    local f = kind.prefix .. d
    local v = get(f)
    if v ~= nil then
      local o = kind.parse(v)
      if b == nil then b = o else kind.add(b, o) end
      del(f)
    end
  end
  if b == nil then b = kind.empty() end
  set_.days[d] = b
  set_.touched[d] = true
  return b
end
-- Writes the changed days: packed, all days in `o`/`t` (latest first; a day that cannot be packed as its day field);
-- else each changed day as its day field (and, if a packed field existed, every day of it: the packed field leaves).
local function write_days(set_)
  if set_ == nil or next(set_.touched) == nil then return end
  local kind = set_.kind
  if pack then
    -- The decoded days (every day asked for, and those after it), then the records not decoded, as they are.
    local all = {}
    for d in pairs(set_.days) do all[#all + 1] = d end
    table.sort(all, function(a, b) return a > b end)
    local parts, touched, from, to = {}, set_.touched, set_.from, set_.to
    for _, d in ipairs(all) do
      if not touched[d] and from[d] ~= nil then
        parts[#parts + 1] = string.sub(set_.packed, from[d], to[d])
      else
        local rec = kind.encode(d, set_.days[d])
        if rec ~= nil then parts[#parts + 1] = rec else set(kind.prefix .. d, kind.legacy(set_.days[d])) end
      end
    end
    parts[#parts + 1] = string.sub(set_.packed, set_.pos)
    local v = table.concat(parts)
    if v ~= '' then set(kind.field, v) elseif set_.had then del(kind.field) end
  else
    if set_.had then
      load_days(set_, nil)
      for d in pairs(set_.days) do day_bucket(set_, d) end
      del(kind.field)
    end
    for d in pairs(set_.touched) do set(kind.prefix .. d, kind.legacy(set_.days[d])) end
  end
end
-- The retention fold of a packed field (value s): fold(d, bucket) for each day <= cut, the rest kept. Returns the
-- lowest day kept.
local function fold_packed(kind, s, cut, fold)
  local keep, lowest, changed = {}, nil, false
  local i = 1
  while i <= #s do
    local d, b, nx = kind.decode(s, i)
    if d <= cut then
      fold(d, b)
      changed = true
    else
      keep[#keep + 1] = string.sub(s, i, nx - 1)
      if lowest == nil or d < lowest then lowest = d end
    end
    i = nx
  end
  if #keep == 0 then del(kind.field) elseif changed then set(kind.field, table.concat(keep)) end
  return lowest
end

-- Lifetime base for orders: count, revenue, margin, last PLACED time among folded (`ob`); first PLACED time among
-- folded (`fo`). Times of live (not cancelled) orders only.
local function add_order_base(dc, dr, dm, last_at, first_at)
  local b = split(get('ob') or '0')
  local last = opt(b[4])
  if last_at ~= nil and (last == nil or last_at > last) then last = last_at end
  set('ob', join_trim({ num(b[1]) + dc, num(b[2]) + dr, num(b[3]) + dm, last and fmt(last) or '' }, 4))
  if first_at ~= nil then
    local fo = opt(get('fo'))
    if fo == nil or first_at < fo then set('fo', fmt(first_at)) end
  end
end

-- Folded order days (`pd`, for the CLV inputs: purchase days and the first purchase day's spend survive the fold):
-- space-separated `<day>:<revenue>` for a folded day with a live order (a purchase day), `<day>~<revenue>` for a
-- folded day with order money but no live order seen. Like the purchase times, a folded day never stops being a
-- purchase day (its reversals are outside the contract once its order states are gone).
local function add_day_base(d, dr, live)
  local out, found = {}, false
  for day, mark, rev in string.gmatch(get('pd') or '', '(%-?%d+)([:~])(%S+)') do
    if tonumber(day) == d then
      found = true
      if live then mark = ':' end
      out[#out + 1] = day .. mark .. fmt(tonumber(rev) + dr)
    else
      out[#out + 1] = day .. mark .. rev
    end
  end
  if not found then
    if dr == 0 and not live then return end
    out[#out + 1] = fmt(d) .. (live and ':' or '~') .. fmt(dr)
  end
  set('pd', table.concat(out, ' '))
end

-- Order bucket o:<day> = "count,revenue,margin,<live times>,<cancelled times>" (design-decisions §15 "Purchase
-- times"): times in ms of the day, space-separated; the placed time of each live order of the day, and
-- `ms@cancelDay` for each order of the day cancelled on a later day. placed_at is used only when the day is folded.
local function add_order(bucket_day, dc, dr, dm, placed_at)
  local cut = cutoff_day()
  if bucket_day <= cut then
    add_order_base(dc, dr, dm, placed_at, placed_at)
    add_day_base(bucket_day, dr, placed_at ~= nil and dc > 0)
    return
  end
  if order_days == nil then order_days = day_set(ORDER_DAYS) end
  local b = day_bucket(order_days, bucket_day)
  b.c, b.r, b.m = b.c + dc, b.r + dr, b.m + dm
  lower_bound_to(bucket_day)
end

-- Moves one order's placed time between the lists of its day bucket: `from` is its entry before the change, `to`
-- after (see time_entry; nil = none). A folded day only receives live times (into the base).
local function move_time(d, from, to)
  if from == to then return end
  if d <= cutoff_day() then
    if to ~= nil and not string.find(to, '@', 1, true) then
      local at = d * DAY + tonumber(to)
      add_order_base(0, 0, 0, at, at)
      add_day_base(d, 0, true)
    end
    return
  end
  if order_days == nil then order_days = day_set(ORDER_DAYS) end
  local b = day_bucket(order_days, d)
  if from ~= nil then
    local l = b.live
    if string.find(from, '@', 1, true) then l = b.canc end
    for k, x in ipairs(l) do
      if x == from then table.remove(l, k); break end
    end
  end
  if to ~= nil then
    local l = b.live
    if string.find(to, '@', 1, true) then l = b.canc end
    l[#l + 1] = to
  end
  lower_bound_to(d)
end

-- A refund or cancellation subtracts from its original order's day, but only from the day it happened on: as of an
-- earlier day the order still counts in full (the pipeline must not know the future, or a replay would depend on
-- how far the aggregator ran ahead). Same day: straight into the order bucket. Field a:<order day>:<effective day>.
local function add_adjustment(order_day, effective_day, dc, dr, dm)
  if effective_day <= order_day then add_order(order_day, dc, dr, dm, nil); return end
  local cut = cutoff_day()
  if effective_day <= cut then
    add_order_base(dc, dr, dm, nil, nil)
    add_day_base(order_day, dr, false)
    return
  end
  local f = 'a:' .. order_day .. ':' .. effective_day
  local b = split(get(f) or '0')
  local c, r, m = num(b[1]) + dc, num(b[2]) + dr, num(b[3]) + dm
  -- Steps of an order can cancel out (a cancellation copy with an earlier day moves its step): no empty field left.
  if c == 0 and r == 0 and m == 0 then
    if get(f) ~= nil then del(f) end
    return
  end
  set(f, join_trim({ c, r, m }, 3))
  lower_bound_to(effective_day)
end

-- Order states (docs/design-decisions.md §15). n:<order_id> = "day,placed,amount,margin,cancelDay" followed by
-- "refundDay,refundAmount,refundMargin" triples (refunds summed per day). day = the PLACED's day (where the order
-- and its reversals land), or, while no PLACED arrived, the earliest original_placed_at day of its reversals.
-- placed = 0 while no PLACED arrived, else the PLACED's ms of its day + 2 (1: written before purchase times were
-- kept, time unknown; such an order's time is never moved between its bucket's lists).
-- Compact form (packed layout, design-decisions §23): a flags byte (below 32, so never the first byte of the form
-- above, a digit or '-': bit 0 placed, 1 its ms known, 2 cancelled, 3 refunded), the day (3 digits), the ms (4 digits,
-- bit 1), amount and margin (signed varints), the cancel day (3 digits, bit 2), then (bit 3) the number of refund days
-- (varint) and per day its day (3 digits), amount and margin (signed varints). Both forms are read in either mode.
local function order_state_decode(v)
  local flags = string.byte(v, 1)
  local s = { placed = flags % 2 == 1, ms = nil, cancel = nil, refunds = {} }
  s.day = dec128(v, 2, 3) - DAY_BIAS
  local i = 5
  if math.floor(flags / 2) % 2 == 1 then s.ms = dec128(v, i, 4); i = i + 4 end
  s.amount, i = dec_int(v, i)
  s.margin, i = dec_int(v, i)
  if math.floor(flags / 4) % 2 == 1 then s.cancel = dec128(v, i, 3) - DAY_BIAS; i = i + 3 end
  if flags >= 8 then
    local n
    n, i = dec_var(v, i)
    for k = 1, n do
      local r = { dec128(v, i, 3) - DAY_BIAS }
      r[2], i = dec_int(v, i + 3)
      r[3], i = dec_int(v, i)
      s.refunds[k] = r
    end
  end
  return s
end
local function day_ok(d) return d ~= nil and d == math.floor(d) and d >= -DAY_BIAS and d < DAY_BIAS end
-- The compact value, or nil when the state cannot be packed (a value not an integer, a day out of range).
local function order_state_encode(s)
  if not (day_ok(s.day) and int_ok(s.amount) and int_ok(s.margin)) then return nil end
  if s.cancel ~= nil and not day_ok(s.cancel) then return nil end
  if s.ms ~= nil and not ms_ok(s.ms) then return nil end
  local flags = (s.placed and 1 or 0) + (s.ms ~= nil and 2 or 0) + (s.cancel ~= nil and 4 or 0)
    + (#s.refunds > 0 and 8 or 0)
  local parts = { string.char(flags), enc128(s.day + DAY_BIAS, 3) }
  if s.ms ~= nil then parts[#parts + 1] = enc128(s.ms, 4) end
  parts[#parts + 1] = enc_int(s.amount)
  parts[#parts + 1] = enc_int(s.margin)
  if s.cancel ~= nil then parts[#parts + 1] = enc128(s.cancel + DAY_BIAS, 3) end
  if #s.refunds > 0 then
    parts[#parts + 1] = enc_var(#s.refunds)
    for _, r in ipairs(s.refunds) do
      if not (day_ok(r[1]) and int_ok(r[2]) and int_ok(r[3])) then return nil end
      parts[#parts + 1] = enc128(r[1] + DAY_BIAS, 3) .. enc_int(r[2]) .. enc_int(r[3])
    end
  end
  return table.concat(parts)
end
-- The day of an order state value (either form): where the order leaves with the retention fold.
local function order_state_day(v)
  if string.byte(v, 1) < 32 then return dec128(v, 2, 3) - DAY_BIAS end
  return tonumber(string.match(v, '^[^,]*'))
end
local function read_order(f)
  local v = get(f)
  if v == nil then return nil end
  if string.byte(v, 1) < 32 then return order_state_decode(v) end
  local t = split(v)
  local s = { day = tonumber(t[1]), placed = num(t[2]) ~= 0, ms = nil, amount = num(t[3]),
    margin = num(t[4]), cancel = opt(t[5]), refunds = {} }
  if num(t[2]) >= 2 then s.ms = num(t[2]) - 2 end
  for i = 6, #t - 2, 3 do
    s.refunds[#s.refunds + 1] = { tonumber(t[i]), num(t[i + 1]), num(t[i + 2]) }
  end
  return s
end
local function copy_order(s)
  local c = { day = s.day, placed = s.placed, ms = s.ms, amount = s.amount, margin = s.margin, cancel = s.cancel,
    refunds = {} }
  for i, r in ipairs(s.refunds) do c.refunds[i] = { r[1], r[2], r[3] } end
  return c
end
local function write_order(f, s)
  local packed = pack and order_state_encode(s)
  if packed then
    set(f, packed)
    lower_bound_to(s.day)
    return
  end
  local placed = 0
  if s.placed then placed = s.ms and s.ms + 2 or 1 end
  local head = { s.day, placed, s.amount, s.margin, s.cancel and fmt(s.cancel) or '' }
  if #s.refunds == 0 then
    set(f, join_trim(head, 5))
  else
    local parts = { join_trim(head, 5) }
    -- join_trim keeps all 5 head columns only if the last is set; pad so the triples start at column 6.
    local cols = #split(parts[1])
    for _ = cols + 1, 5 do parts[1] = parts[1] .. ',' end
    for _, r in ipairs(s.refunds) do parts[#parts + 1] = fmt(r[1]) .. ',' .. fmt(r[2]) .. ',' .. fmt(r[3]) end
    set(f, table.concat(parts, ','))
  end
  lower_bound_to(s.day)
end
-- Margin left after refunded margins, kept between 0 and the order's margin (which may be negative).
local function clamp_margin(x, m)
  local lo, hi = math.min(0, m), math.max(0, m)
  if x < lo then return lo end
  if x > hi then return hi end
  return x
end
-- An order's contribution as a step function of the as-of day: {day -> {count, revenue, margin} increments}. The
-- step on the order's day is the PLACED itself with what was known that day; later steps are reversals from their own
-- day on. Cancelled: 0, 0, 0. Otherwise 1, amount − min(amount, refunds), clamp(margin − refunded margins).
local function order_steps(s)
  local steps = {}
  if s == nil or not s.placed then return steps end
  local d = s.day
  if s.cancel == nil and #s.refunds == 0 then
    -- One step (no reversal): the loop below for its day alone, without its tables.
    steps[d] = { 1 - 0, s.amount - math.min(s.amount, 0) - 0, clamp_margin(s.margin - 0, s.margin) - 0 }
    return steps
  end
  local days, seen = { d }, { [d] = true }
  local function add_day(e)
    if e < d then e = d end
    if not seen[e] then seen[e] = true; days[#days + 1] = e end
  end
  for _, r in ipairs(s.refunds) do add_day(r[1]) end
  if s.cancel ~= nil then add_day(s.cancel) end
  table.sort(days)
  local pc, pr, pm = 0, 0, 0
  for _, t in ipairs(days) do
    local c, rv, mg = 0, 0, 0
    if s.cancel == nil or s.cancel > t then
      local refunded, refunded_margin = 0, 0
      for _, r in ipairs(s.refunds) do
        if r[1] <= t then refunded = refunded + r[2]; refunded_margin = refunded_margin + r[3] end
      end
      c, rv, mg = 1, s.amount - math.min(s.amount, refunded), clamp_margin(s.margin - refunded_margin, s.margin)
    end
    steps[t] = { c - pc, rv - pr, mg - pm }
    pc, pr, pm = c, rv, mg
  end
  return steps
end
-- The order's entry in its day bucket's time lists: its ms of the day while live, `ms@cancelDay` when cancelled on a
-- later day than its own (a purchase time as of the days before), nil when not placed or cancelled on its own day.
local function time_entry(s)
  if s == nil or not s.placed or s.ms == nil then return nil end
  if s.cancel == nil then return fmt(s.ms) end
  if s.cancel > s.day then return fmt(s.ms) .. '@' .. fmt(s.cancel) end
  return nil
end
local function refund_excess(s)
  if s == nil or not s.placed then return 0 end
  local refunded = 0
  for _, r in ipairs(s.refunds) do refunded = refunded + r[2] end
  return math.max(0, refunded - s.amount)
end
-- Writes the difference between two states of one order into the day buckets and adjustments (sums, so the other
-- orders of those days are untouched). placed_at: the PLACED's time when this change is its arrival.
local function apply_order_change(old, new, placed_at)
  local before, after = order_steps(old), order_steps(new)
  local d = new.day
  for t, v in pairs(after) do
    local o = before[t] or { 0, 0, 0 }
    local dc, dr, dm = v[1] - o[1], v[2] - o[2], v[3] - o[3]
    if t == d and placed_at ~= nil then
      add_order(d, dc, dr, dm, placed_at)
    elseif dc ~= 0 or dr ~= 0 or dm ~= 0 then
      add_adjustment(d, t, dc, dr, dm)
    end
  end
  for t, o in pairs(before) do
    if after[t] == nil and (o[1] ~= 0 or o[2] ~= 0 or o[3] ~= 0) then add_adjustment(d, t, -o[1], -o[2], -o[3]) end
  end
  return refund_excess(new) - refund_excess(old)
end

local function max_field(f, at)
  local cur = opt(get(f))
  if cur == nil or at > cur then set(f, fmt(at)) end
end

local function set_ticket_base_last(at)
  local b = split(get('tb') or '')
  local last = opt(b[1])
  if last == nil or at > last then
    set('tb', join_trim({ fmt(at), num(b[2]), num(b[3]) }, 3))
  end
end

-- Web days (field `w`): one record per day, latest day first: the day (3 digits, biased), the last seen ms of the
-- day (4 digits), a type mask (2 digits, bit i = WEB_BEHAVIOR_TYPES index i), then for each type in the mask its count
-- as a varint (6 bits per byte, low group first, +64 = more follows). The events of one call are merged per day first
-- (web_delta) and written once (write_web), not one bucket read and rewritten per event.
local function decode_web_record(s, i)
  local d = dec128(s, i, 3) - DAY_BIAS
  local ms = dec128(s, i + 3, 4)
  local mask = dec128(s, i + 7, 2)
  i = i + 9
  local counts, t = {}, 0
  while mask > 0 do
    if mask % 2 == 1 then
      local c, mul = 0, 1
      while true do
        local b = string.byte(s, i)
        i = i + 1
        if b >= 64 then c = c + (b - 64) * mul; mul = mul * 64 else c = c + b * mul; break end
      end
      counts[t] = c
    end
    mask = math.floor(mask / 2)
    t = t + 1
  end
  return d, ms, counts, i
end
local function encode_web_record(d, ms, counts)
  local mask, bit, cs = 0, 1, {}
  for t = 0, 13 do
    local c = counts[t]
    if c ~= nil and c > 0 then
      mask = mask + bit
      repeat
        local b = c % 64
        c = math.floor(c / 64)
        if c > 0 then b = b + 64 end
        cs[#cs + 1] = string.char(b)
      until c == 0
    end
    bit = bit * 2
  end
  return enc128(d + DAY_BIAS, 3) .. enc128(ms, 4) .. enc128(mask, 2) .. table.concat(cs)
end

-- A day's counts of web_delta (w): a day of a merged record keeps its counts as they came (w.raw: one varint per
-- type of w.mask, the compact form's) until something needs them as a table.
local function web_counts(w)
  local c = w.counts
  if c == nil then
    c = {}
    local s, i, mask, t = w.raw, 1, w.mask, 0
    while mask > 0 do
      if mask % 2 == 1 then c[t], i = dec_var(s, i) end
      mask = math.floor(mask / 2)
      t = t + 1
    end
    w.counts = c
  end
  return c
end
local function add_web(at, type_index)
  local d = day_of(at)
  if d <= cutoff_day() then max_field('wb', at); return end
  if web_delta == nil then web_delta = {} end
  local ms = at - d * DAY
  local w = web_delta[d]
  if w == nil then
    w = { ms = ms, counts = {} }
    web_delta[d] = w
  elseif ms > w.ms then
    w.ms = ms
  end
  local counts = web_counts(w)
  counts[type_index] = (counts[type_index] or 0) + 1
end

-- A day's merged web events (op M): like add_web for each of them (see run_merged for the cutoff).
local function add_web_day(d, ms, counts)
  if d <= cutoff_day() then max_field('wb', d * DAY + ms); return end
  if web_delta == nil then web_delta = {} end
  local w = web_delta[d]
  if w == nil then
    web_delta[d] = { ms = ms, counts = counts }
    return
  end
  if ms > w.ms then w.ms = ms end
  local wc = web_counts(w)
  for t, c in pairs(counts) do wc[t] = (wc[t] or 0) + c end
end
-- One day record of a merged record (s from i, the form of encode_web_record) into web_delta, its counts kept as they
-- came when they are the compact form's (no zero count, no varint longer than needed), else as a table. Returns the
-- next record's position.
local function add_web_day_record(s, i)
  local d = dec128(s, i, 3) - DAY_BIAS
  local ms = dec128(s, i + 3, 4)
  local mask = dec128(s, i + 7, 2)
  local from, j, m, canonical = i + 9, i + 9, mask, true
  while m > 0 do
    if m % 2 == 1 then
      local b = byte(s, j)
      if b == 0 then canonical = false end
      while b >= 64 do
        j = j + 1
        b = byte(s, j)
      end
      if b == 0 then canonical = false end
      j = j + 1
    end
    m = math.floor(m / 2)
  end
  if d <= cutoff_day() then max_field('wb', d * DAY + ms); return j end
  if web_delta == nil then web_delta = {} end
  if canonical and web_delta[d] == nil then
    web_delta[d] = { ms = ms, mask = mask, raw = string.sub(s, from, j - 1) }
    return j
  end
  local _, _, counts, nx = decode_web_record(s, i)
  add_web_day(d, ms, counts)
  return nx
end

-- Compact web days (field `W`, the packed layout's: design-decisions §23): the same records, latest day first, with
-- the day as a gap instead of 3 digits and the mask as a varint: the first record's day (3 digits), then per record
-- (after the first: the gap to the previous record's day, a varint), the last seen ms of the day (4 digits), the type
-- mask (varint) and one varint count per type in the mask. Without the packed layout (ARGV[2] without `p`) the days
-- are written to `w` (above); both are read in either mode, and a write leaves one of them (the other merged into it).
-- A record's day (from the previous record's, prev) and where the rest of it starts; then that rest.
local function web_compact_head(s, i, prev)
  if i == 1 then return dec128(s, 1, 3) - DAY_BIAS, 4 end
  local gap = string.byte(s, i)
  if gap < 64 then return prev - gap, i + 1 end
  gap, i = dec_var(s, i)
  return prev - gap, i
end
local function web_compact_body(s, i)
  local ms = dec128(s, i, 4)
  local mask
  mask, i = dec_var(s, i + 4)
  local counts, t = {}, 0
  while mask > 0 do
    if mask % 2 == 1 then counts[t], i = dec_var(s, i) end
    mask = math.floor(mask / 2)
    t = t + 1
  end
  return ms, counts, i
end
local function decode_web_compact(s, i, prev)
  local d, at = web_compact_head(s, i, prev)
  local ms, counts, nx = web_compact_body(s, at)
  return d, ms, counts, nx
end
-- Days `all` (latest first) of recs in the compact form.
local function encode_web_compact(all, recs)
  local out, prev = {}, nil
  for k, d in ipairs(all) do
    local r = recs[d]
    local mask, bit, cs = 0, 1, {}
    for t = 0, 13 do
      local c = r.counts[t]
      if c ~= nil and c > 0 then
        mask = mask + bit
        cs[#cs + 1] = enc_var(c)
      end
      bit = bit * 2
    end
    local head = prev == nil and enc128(d + DAY_BIAS, 3) or enc_var(prev - d)
    out[k] = head .. enc128(r.ms, 4) .. enc_var(mask) .. table.concat(cs)
    prev = d
  end
  return table.concat(out)
end
-- Every record of a web days field (`w` or `W`), as (day, ms, counts) to f, latest first.
local function each_web_record(f, s, fn)
  local i, prev = 1, nil
  while i <= #s do
    local d, ms, counts, nx
    if f == 'W' then
      d, ms, counts, nx = decode_web_compact(s, i, prev)
    else
      d, ms, counts, nx = decode_web_record(s, i)
    end
    fn(d, ms, counts, i, nx)
    prev, i = d, nx
  end
end
local function add_web_rec(recs, d, ms, counts)
  local r = recs[d]
  if r == nil then recs[d] = { ms = ms, counts = counts }; return end
  if ms > r.ms then r.ms = ms end
  for t, c in pairs(counts) do r.counts[t] = (r.counts[t] or 0) + c end
end

-- Merges web_delta into the web days (`W` with the packed layout, else `w`): only the records down to the lowest day
-- touched are decoded (latest first; a replay or live traffic touches the latest days), the rest of the value is kept
-- as it is. The other form, if present, is merged in whole and leaves.
-- One record of the compact form: its head (the day's 3 digits or the gap), ms and counts.
local function web_compact_record(head, ms, counts)
  local mask, bit, cs = 0, 1, {}
  for t = 0, 13 do
    local c = counts[t]
    if c ~= nil and c > 0 then
      mask = mask + bit
      cs[#cs + 1] = enc_var(c)
    end
    bit = bit * 2
  end
  return head .. enc128(ms, 4) .. enc_var(mask) .. table.concat(cs)
end
-- write_web when `W` alone holds web days (the packed layout, no `w`) and every day of the delta is at or after the
-- latest day of `W` (the usual batch: live traffic, or a replay batch of a few days per customer): the delta's records
-- put before the first record of `W` (the first merged into it when of its day), the rest of `W` kept. Returns false
-- (nothing done) otherwise. The same value, and the same fields written in the same order, as the general path below
-- (which decodes no record of `W` after its first in this case).
local function write_web_ahead()
  local s = get('W') or ''
  local days, n = {}, 0
  for d in pairs(web_delta) do n = n + 1; days[n] = d end
  if n > 1 then table.sort(days, descending) end
  local lowest, d0 = days[n], nil
  if s ~= '' then
    d0 = dec128(s, 1, 3) - DAY_BIAS
    if lowest < d0 then return false end
  end
  local parts, tail, prev = {}, '', nil
  for k = 1, n do
    local d = days[k]
    local w = web_delta[d]
    local head = prev == nil and enc128(d + DAY_BIAS, 3) or enc_var(prev - d)
    if d == d0 then
      local ms, counts, nx = web_compact_body(s, 4)
      if nx <= #s then
        local d1, at = web_compact_head(s, nx, d0)
        -- (A second record of the same day is not written by any script: the general path merges it.)
        if d1 >= d0 then return false end
        tail = enc_var(d0 - d1) .. string.sub(s, at)
      end
      if w.ms > ms then ms = w.ms end
      for t, c in pairs(web_counts(w)) do counts[t] = (counts[t] or 0) + c end
      parts[k] = web_compact_record(head, ms, counts)
    elseif w.counts == nil then
      -- A merged record's day as it came: the bytes web_compact_record would make of its counts.
      parts[k] = head .. enc128(w.ms, 4) .. enc_var(w.mask) .. w.raw
    else
      parts[k] = web_compact_record(head, w.ms, w.counts)
    end
    prev = d
  end
  if d0 ~= nil and lowest > d0 then tail = enc_var(lowest - d0) .. string.sub(s, 4) end
  parts[n + 1] = tail
  -- (The general path lowers `lb` before it writes `W`, the one-day path of the previous script after: kept as it was.)
  if n > 1 then lower_bound_to(lowest) end
  set('W', table.concat(parts))
  if n == 1 then lower_bound_to(lowest) end
  return true
end
local function write_web()
  if web_delta == nil then return end
  if pack and get('w') == nil and write_web_ahead() then return end
  local days = {}
  for d in pairs(web_delta) do days[#days + 1] = d end
  table.sort(days)
  local lowest = days[1]
  local primary, other = 'w', 'W'
  if pack then primary, other = 'W', 'w' end
  local recs = {}
  local ov = get(other)
  if ov ~= nil then
    each_web_record(other, ov, function(d, ms, counts) add_web_rec(recs, d, ms, counts) end)
    del(other)
  end
  local s = get(primary) or ''
  -- tail: the records not decoded; with `W`, tail_day = the day of its first record (written again as a gap).
  local i, prev, tail, tail_day = 1, nil, '', nil
  while i <= #s do
    if primary == 'W' then
      local d, at = web_compact_head(s, i, prev)
      if ov == nil and d < lowest then
        tail, tail_day = string.sub(s, at), d
        break
      end
      local ms, counts, nx = web_compact_body(s, at)
      add_web_rec(recs, d, ms, counts)
      prev, i = d, nx
    else
      local d, ms, counts, nx = decode_web_record(s, i)
      if ov == nil and d < lowest then break end
      add_web_rec(recs, d, ms, counts)
      i = nx
    end
  end
  if primary == 'w' then tail = string.sub(s, i) end
  for _, d in ipairs(days) do
    local w = web_delta[d]
    add_web_rec(recs, d, w.ms, web_counts(w))
    lower_bound_to(d)
  end
  local all = {}
  for d in pairs(recs) do all[#all + 1] = d end
  table.sort(all, function(a, b) return a > b end)
  if primary == 'W' then
    local v = encode_web_compact(all, recs)
    if tail_day ~= nil then v = v .. enc_var(all[#all] - tail_day) .. tail end
    set('W', v)
  else
    local out = {}
    for k, d in ipairs(all) do out[k] = encode_web_record(d, recs[d].ms, recs[d].counts) end
    out[#out + 1] = tail
    set('w', table.concat(out))
  end
end

-- Service bucket: "lastTicketMsOfDay,tickets,complaints,escalations,csatSum,csatCount"
local function add_service(at, code, x3)
  local d = day_of(at)
  if d <= cutoff_day() then set_ticket_base_last(at); return end
  if service_days == nil then service_days = day_set(SERVICE_DAYS) end
  local b = day_bucket(service_days, d)
  local ms = at - d * DAY
  if ms > b.ms then b.ms = ms end
  local v = b.v
  if code == 'O' then
    v[1] = v[1] + 1
    if x3 == '1' then v[2] = v[2] + 1 end
  elseif code == 'E' then
    v[3] = v[3] + 1
  elseif code == 'S' and x3 ~= '' then
    v[4] = v[4] + tonumber(x3)
    v[5] = v[5] + 1
  end
  lower_bound_to(d)
end

-- Ticket state: { opened, resolved, code, at (the status and its time), eid (the status event's id, tie-break) }.
-- Packed (with ARGV[2]'s `p`): K:<ticket> = a flags digit (bit 0 opened, 1 resolved, 2 status), the times present
-- (7 digits each, biased like the dedupe times: opened, resolved, status time), the status code, then the event id.
-- The previous layout (read in either mode; a ticket in both forms, after an identity fold, is merged like the fold
-- merges: earliest opened and resolved, the later status, ties to the greater event id): k:<ticket> =
-- "openedAt,resolvedAt,statusCode,statusAt", q:<ticket> = the status event's id.
local function time_ok(x) return x == nil or (x == math.floor(x) and x > -TIME_BIAS and x < TIME_BIAS) end
local function ticket_decode(v)
  local flags, i = string.byte(v, 1), 2
  local st = { code = '', eid = '' }
  if flags % 2 == 1 then st.opened = dec128(v, i, 7) - TIME_BIAS; i = i + 7 end
  if math.floor(flags / 2) % 2 == 1 then st.resolved = dec128(v, i, 7) - TIME_BIAS; i = i + 7 end
  if flags >= 4 then
    st.at = dec128(v, i, 7) - TIME_BIAS
    st.code = string.sub(v, i + 7, i + 7)
    i = i + 8
  end
  st.eid = string.sub(v, i)
  return st
end
-- The packed value, or nil when the state cannot be packed.
local function ticket_encode(st)
  if not (time_ok(st.opened) and time_ok(st.resolved) and time_ok(st.at)) then return nil end
  if (st.at == nil) ~= (st.code == '') or #st.code > 1 then return nil end
  local flags, parts = 0, { '' }
  if st.opened ~= nil then flags = flags + 1; parts[#parts + 1] = enc128(st.opened + TIME_BIAS, 7) end
  if st.resolved ~= nil then flags = flags + 2; parts[#parts + 1] = enc128(st.resolved + TIME_BIAS, 7) end
  if st.at ~= nil then flags = flags + 4; parts[#parts + 1] = enc128(st.at + TIME_BIAS, 7) .. st.code end
  parts[1] = string.char(flags)
  parts[#parts + 1] = st.eid
  return table.concat(parts)
end
local function ticket_merge(st, o)
  if o.opened ~= nil and (st.opened == nil or o.opened < st.opened) then st.opened = o.opened end
  if o.resolved ~= nil and (st.resolved == nil or o.resolved < st.resolved) then st.resolved = o.resolved end
  if o.at ~= nil and (st.at == nil or o.at > st.at or (o.at == st.at and str_gt(o.eid, st.eid))) then
    st.at, st.code, st.eid = o.at, o.code, o.eid
  end
end
-- The ticket's state from both forms (nil when it has none).
local function read_ticket(tid)
  local st
  local v = get('K:' .. tid)
  if v ~= nil then st = ticket_decode(v) end
  local lv = get('k:' .. tid)
  if lv ~= nil then
    local t = split(lv)
    local o = { opened = opt(t[1]), resolved = opt(t[2]), code = t[3] or '', at = opt(t[4]), eid = get('q:' .. tid) or '' }
    if st == nil then st = o else ticket_merge(st, o) end
  end
  return st
end
local function write_ticket(tid, st)
  local packed = pack and ticket_encode(st)
  local kf, qf, pf = 'k:' .. tid, 'q:' .. tid, 'K:' .. tid
  if packed then
    set(pf, packed)
    if get(kf) ~= nil then del(kf) end
    if get(qf) ~= nil then del(qf) end
  else
    set(kf, table.concat({ st.opened and fmt(st.opened) or '', st.resolved and fmt(st.resolved) or '', st.code,
      st.at and fmt(st.at) or '' }, ','))
    if st.eid ~= '' and st.eid ~= get(qf) then set(qf, st.eid) end
    if get(pf) ~= nil then del(pf) end
  end
end
local function add_ticket_state(tid, code, at, eid)
  if code ~= 'O' and code ~= 'P' and code ~= 'R' and code ~= 'C' then return end
  local st = read_ticket(tid) or { code = '', eid = '' }
  if code == 'O' and (st.opened == nil or at < st.opened) then st.opened = at end
  if (code == 'R' or code == 'C') and (st.resolved == nil or at < st.resolved) then st.resolved = at end
  if st.at == nil or at > st.at or (at == st.at and str_gt(eid, st.eid)) then
    st.code, st.at, st.eid = code, at, eid
  end
  write_ticket(tid, st)
  if st.code == 'C' then lower_bound_to(day_of(st.at)) end
end


-- One order event (after the redelivery and event_id checks). Orders are identified by order_id: a PLACED of an
-- order already placed is a copy (a retry under a new event_id) and counts nothing; a CANCELLED makes the order count
-- 0 (the earliest cancellation's day); a refund counts once per identity; reversals of an order not placed yet wait in
-- its state. Order states are kept while the order's day is after the retention cutoff (folded below): an order
-- event older than that finds no state — a PLACED then counts into the base, a reversal has no effect (expired).
local function apply_order_event(op, ei, x2, x3, at)
  local oid, rkey, amount = ev_oid[ei], ev_rkey[ei], ev_amount[ei]
  local margin = num(x2)
  local nf = 'n:' .. oid
  local old = read_order(nf)
  local cut = cutoff_day()
  if op == 'P' then
    -- The first PLACED in arrival order is the order; later copies count nothing, whatever they carry (§15).
    if old ~= nil and old.placed then return end
    local d = day_of(tonumber(x3))
    if old == nil and d <= cut then
      add_order(d, 1, amount, margin, at)
      return
    end
    if old == nil then
      -- A new order (the usual PLACED): apply_order_change and move_time of a state without reversals, inline (the
      -- same sums, in the same order, and the same fields written in the same order).
      if order_days == nil then order_days = day_set(ORDER_DAYS) end
      local b = day_bucket(order_days, d)
      b.c, b.r, b.m = b.c + 1, b.r + (amount - math.min(amount, 0)), b.m + clamp_margin(margin, margin)
      lower_bound_to(d)
      excess = excess + math.max(0, 0 - amount)
      local ms = at - d * DAY
      b.live[#b.live + 1] = fmt(ms)
      write_order(nf, { day = d, placed = true, ms = ms, amount = amount, margin = margin, refunds = {} })
      return
    end
    local new = copy_order(old)
    new.day, new.placed, new.ms, new.amount, new.margin = d, true, at - d * DAY, amount, margin
    excess = excess + apply_order_change(old, new, at)
    move_time(d, nil, time_entry(new))
    write_order(nf, new)
    return
  end
  local od = day_of(tonumber(x3))
  if old == nil and od <= cut then expired = expired + 1; return end
  local new
  if old ~= nil then new = copy_order(old) else new = { day = od, placed = false, amount = 0, margin = 0, refunds = {} } end
  if not new.placed and od < new.day then new.day = od end
  local e = day_of(at)
  if op == 'C' then
    if new.cancel ~= nil and new.cancel <= e then return end
    new.cancel = e
  else
    local uf = refund_field(oid, rkey)
    if get(uf) ~= nil then return end
    set(uf, fmt(new.day))
    lower_bound_to(new.day)
    local merged = false
    for _, r in ipairs(new.refunds) do
      if r[1] == e then r[2] = r[2] + amount; r[3] = r[3] + margin; merged = true; break end
    end
    if not merged then new.refunds[#new.refunds + 1] = { e, amount, margin } end
  end
  excess = excess + apply_order_change(old, new, nil)
  if new.placed then move_time(new.day, time_entry(old), time_entry(new)) end
  write_order(nf, new)
end
-- The dedupe memory of a topic (field e:<topic code>): the topic's latest event time for this customer (7 digits),
-- then one entry per remembered event: its fingerprint (9 digits) and occurred_at (7 digits). With the packed layout
-- the topic's time is not written when the latest entry has it (the event that set it is remembered until it is
-- older than the horizon behind itself, i.e. never pruned while it is the latest): the value's length tells the forms
-- apart (7 + 16k or 16k). Entries older than the horizon behind the topic's latest time are dropped when the field
-- is written (below the event loop).
-- Membership is a plain search of the stored value for the fingerprint at an entry's position (holds_fp: a match
-- inside an entry or across two is searched past), without a table of its entries; new entries are appended as
-- strings; the times are decoded once, when the field is written (finish), and the value is rebuilt only when some
-- entry is older than the horizon (otherwise the new entries are appended to it as they are).
-- d = { field, v (the stored value, or ''), base (where its entries start: 1, or 8 after the topic's time), hdr (that
-- time, or nil), tx (the latest time of this call's events, or of x:<code>), fps (fingerprints added by this call's
-- events one by one), merged (the entries strings of its merged records), bulk (every entries string added, in
-- order: one per event or merged record), changed, legacy }.
local function dedupe_of(tc, ef)
  local d = dedupe[tc]
  if d ~= nil then return d end
  d = { field = ef, v = '', base = 1, hdr = nil, tx = nil, fps = nil, bulk = {}, merged = nil, changed = false }
  local v = get(ef)
  if v ~= nil and #v >= 7 then
    -- With the topic's time first (a length of 7 + 16k), or without (16k): then the latest entry's time is the topic's.
    d.v = v
    if #v % ENTRY_LEN == 7 then d.hdr = dec128(v, 1, 7) - TIME_BIAS; d.base = 8 end
  end
  -- The previous layout (x:<code> = the topic's latest time, one e:<code>:<event_id> field per id): the time carries
  -- over; the ids cannot be fingerprinted here and are dropped (design-decisions §23 "Upgrade"). Looked for only while
  -- the new field is absent (a new customer or topic, or an upgrade).
  local legacy_tx = nil
  if v == nil then legacy_tx = opt(get('x:' .. tc)) end
  if legacy_tx ~= nil then
    d.tx = legacy_tx
    del('x:' .. tc)
    d.changed = true
    d.legacy = true
  end
  dedupe[tc] = d
  return d
end
-- Whether string s holds fingerprint fp at an entry's position (entries of ENTRY_LEN bytes from `base`; a match
-- elsewhere, inside an entry or across two, is searched past).
local function holds_fp(s, base, fp)
  local last = #s - ENTRY_LEN + 1
  local p = string.find(s, fp, base, true)
  while p ~= nil and p <= last do
    if (p - base) % ENTRY_LEN == 0 then return true end
    p = string.find(s, fp, p + 1, true)
  end
  return false
end
-- Whether the topic's memory (stored, or added by this call) remembers fingerprint fp.
local function remembered(d, fp)
  if d.fps ~= nil and d.fps[fp] then return true end
  if holds_fp(d.v, d.base, fp) then return true end
  local bulk = d.bulk
  local merged = d.merged
  if merged == nil then return false end
  for k = 1, #merged do
    if holds_fp(merged[k], 1, fp) then return true end
  end
  return false
end
-- An entry's time (the 7 digits after its fingerprint, at j).
local function entry_at(s, j) return dec128(s, j + FP_LEN, 7) - TIME_BIAS end
-- The lowest and highest entry time of s from `base` (nil, nil without entries), folded into lo, hi.
local function entry_range(s, base, lo, hi)
  for j = base, #s - ENTRY_LEN + 1, ENTRY_LEN do
    -- entry_at(s, j), inline (every entry of a written memory is decoded here).
    local a, b, c, d, e, f, g = byte(s, j + FP_LEN, j + FP_LEN + 6)
    local at = (((((a * 128 + b) * 128 + c) * 128 + d) * 128 + e) * 128 + f) * 128 + g - TIME_BIAS
    if lo == nil or at < lo then lo = at end
    if hi == nil or at > hi then hi = at end
  end
  return lo, hi
end
-- The entries of s from `base` at or after limit, appended to keep; returns the highest kept time folded into top.
local function keep_entries(s, base, limit, keep, top)
  local run = nil
  local last = #s - ENTRY_LEN + 1
  for j = base, last, ENTRY_LEN do
    local at = entry_at(s, j)
    if at >= limit then
      if run == nil then run = j end
      if top == nil or at > top then top = at end
    elseif run ~= nil then
      keep[#keep + 1] = string.sub(s, run, j - 1)
      run = nil
    end
  end
  if run ~= nil then keep[#keep + 1] = string.sub(s, run, last + ENTRY_LEN - 1) end
  return top
end

-- One customer's merged web events (op M, record i), after its high-water offset `hw` was read. The cutoff used for
-- the days is the one after all of them (the per-event path's running cutoff can only be lower, and a day between
-- the two is written and folded again in the same call: the same state).
local function run_merged(i, hw)
  local e = (i - i % 2) / 2
  local first_offset, last_offset = ev_offset[e], ev_x2[e]
  if hw ~= nil and not offset_gt(last_offset, hw) then return end
  if hw ~= nil and not offset_gt(first_offset, hw) then conflict = true; return end
  local nm = ev_names[e]
  local d = dedupe_of(nm.tc, nm.ef)
  local entries = ev_eid[e]
  -- remembered(d, fp) for each entry, the stored memory's search (holds_fp) inline.
  local fps, v, base, merged = d.fps, d.v, d.base, d.merged
  local last = #v - ENTRY_LEN + 1
  for j = 1, #entries, ENTRY_LEN do
    local fp = string.sub(entries, j, j + FP_LEN - 1)
    if fps ~= nil and fps[fp] then conflict = true; return end
    local p = string.find(v, fp, base, true)
    while p ~= nil and p <= last do
      if (p - base) % ENTRY_LEN == 0 then conflict = true; return end
      p = string.find(v, fp, p + 1, true)
    end
    if merged ~= nil then
      for k = 1, #merged do
        if holds_fp(merged[k], 1, fp) then conflict = true; return end
      end
    end
  end
  set(nm.hf, last_offset)
  d.bulk[#d.bulk + 1] = entries
  if d.merged == nil then d.merged = {} end
  d.merged[#d.merged + 1] = entries
  d.changed = true
  local latest, earliest = ev_at[e], tonumber(ev_x3[e])
  if mx == nil or latest > mx then mx = latest; dirty.mx = true end
  if d.tx == nil or latest > d.tx then d.tx = latest end
  applied = applied + #entries / ENTRY_LEN
  if min_at == nil or earliest < min_at then min_at = earliest end
  if max_at == nil or latest > max_at then max_at = latest end
  local days, k = ev_x1[e], 1
  while k <= #days do k = add_web_day_record(days, k) end
end

local function run_events(first, last)
for i = first, last, 2 do
  local e = (i - i % 2) / 2
  local offset, eid = ev_offset[e], ev_eid[e]
  local at = ev_at[e]
  local op, x1, x2, x3 = ev_op[e], ev_x1[e], ev_x2[e], ev_x3[e]
  local nm = ev_names[e]
  local hf = nm.hf
  local hw = get(hf)
  if hw == nil then
    -- The previous layout's high-water field (h:<topic>:<partition>) moves to the new name.
    local lf = 'h:' .. nm.topic .. ':' .. nm.partition
    hw = get(lf)
    if hw ~= nil then set(hf, hw); del(lf) end
  end
  if op == 'M' then
    run_merged(i, hw)
  -- 1. Redelivery: a record at or below this customer's high-water offset of its partition was applied before.
  elseif hw == nil or offset_gt(offset, hw) then
    set(hf, offset)
    -- 2. Duplicate event_id still remembered (within the dedupe horizon): skip.
    -- The horizon is measured per input topic (from the latest event time of that topic for this customer): the
    -- topics are consumed independently, and a lagging topic's ids must not be forgotten because another topic ran
    -- ahead in event time. Ids are unique within a topic.
    local d = dedupe_of(nm.tc, nm.ef)
    local fp = ev_fp[e]
    if not remembered(d, fp) then
      if d.fps == nil then d.fps = {} end
      d.fps[fp] = true
      if mx == nil or at > mx then mx = at; dirty.mx = true end
      if d.tx == nil or at > d.tx then d.tx = at end
      d.bulk[#d.bulk + 1] = fp .. enc128(at + TIME_BIAS, 7)
      d.changed = true
      applied = applied + 1
      if min_at == nil or at < min_at then min_at = at end
      if max_at == nil or at > max_at then max_at = at end
      if op == 'P' or op == 'R' or op == 'C' then
        apply_order_event(op, e, x2, x3, at)
      elseif op == 'W' then
        add_web(at, tonumber(x1))
      elseif op == 'T' then
        add_service(at, x2, x3)
        add_ticket_state(x1, x2, at, eid)
      else
        error('unknown op ' .. tostring(op))
      end
    end
  end
end

end

local function finish()
-- `mx` as a string once (run_events marks it written when it rises).
if dirty.mx then cache.mx = fmt(mx) end
write_web()
write_days(order_days)
write_days(service_days)

-- The dedupe memory of each topic this call applied events of, pruned to the horizon behind the topic's latest time.
for tc, d in pairs(dedupe) do
  if d.changed then
    -- The topic's time: the stored one (or, without it, the latest stored entry's), later events' and x:<code>'s.
    local lo, hi = entry_range(d.v, d.base, nil, nil)
    local tx = d.hdr or hi
    if d.tx ~= nil and (tx == nil or d.tx > tx) then tx = d.tx end
    local bulk = d.bulk
    for k = 1, #bulk do lo, hi = entry_range(bulk[k], 1, lo, hi) end
    local limit, body, top = tx - horizon, nil, nil
    if lo == nil or lo >= limit then
      -- Nothing older than the horizon: the stored entries and the new ones, as they are.
      top = hi
      local n = math.floor((#d.v - d.base + 1) / ENTRY_LEN)
      body = string.sub(d.v, d.base, d.base + n * ENTRY_LEN - 1) .. table.concat(bulk)
    else
      local keep = {}
      top = keep_entries(d.v, d.base, limit, keep, nil)
      for k = 1, #bulk do top = keep_entries(bulk[k], 1, limit, keep, top) end
      body = table.concat(keep)
    end
    -- The topic's time is left out when it is the latest entry's (always, but after an upgrade from x:<code>), with
    -- the packed layout.
    if pack and top == tx then
      set(d.field, body)
    else
      set(d.field, enc128(tx + TIME_BIAS, 7) .. body)
    end
    if d.legacy then
      -- The previous layout's id fields of this topic (once per customer and topic, at the upgrade).
      local cursor = '0'
      repeat
        local r = redis.call('HSCAN', key, cursor, 'MATCH', 'e:' .. tc .. ':*', 'COUNT', 1000)
        cursor = r[1]
        for j = 1, #r[2], 2 do del(r[2][j]) end
      until cursor == '0'
    end
  end
end

-- Retention: fold buckets (and long-closed tickets) that fell behind the cutoff.
local cut = cutoff_day()
if cut ~= nil then
  local advanced = initial_cutoff == nil or cut > initial_cutoff
  local fold = advanced and (lower_bound == nil or cut >= lower_bound)
  local fields = {}
  if fold then
    -- Something may fold: read the whole hash (rare: the lower bound moves past the cutoff once per folded day; a
    -- customer's first call, without `lb`, unless its hash did not exist: then the cache holds all of it).
    if not fresh then merge(redis.call('HGETALL', key)) end
    for f, v in pairs(cache) do
      if v ~= false then fields[#fields + 1] = f end
    end
  end
  for _, f in ipairs(fields) do
    local p = string.sub(f, 1, 2)
    if p == 'e:' or p == 'x:' then
      -- The dedupe memory (e:<code>) is pruned above; e:<code>:<event_id> and x:<code> are the previous layout's.
      if p == 'x:' or string.find(f, ':', 3, true) then del(f) end
    elseif f == 'W' then
      -- Latest first: the records from the first one at or below the cutoff on fold.
      local s, keep = cache[f], nil
      each_web_record(f, s, function(d, ms, _, at)
        if d <= cut then
          max_field('wb', d * DAY + ms)
          if keep == nil then keep = at - 1 end
        end
      end)
      if keep == 0 then del(f) elseif keep ~= nil then set(f, string.sub(s, 1, keep)) end
    elseif f == 'w' then
      local s, out, i, changed = cache[f], {}, 1, false
      while i <= #s do
        local d, ms, _, nx = decode_web_record(s, i)
        if d <= cut then
          max_field('wb', d * DAY + ms)
          changed = true
        else
          out[#out + 1] = string.sub(s, i, nx - 1)
        end
        i = nx
      end
      if #out == 0 then del(f) elseif changed then set(f, table.concat(out)) end
    elseif f == 'o' then
      -- Packed order days: like o:<day> below.
      fold_packed(ORDER_DAYS, cache[f], cut, function(d, b)
        local lo, hi = nil, nil
        for _, x in ipairs(b.live) do
          local v = tonumber(x)
          if lo == nil or v < lo then lo = v end
          if hi == nil or v > hi then hi = v end
        end
        add_order_base(b.c, b.r, b.m, hi and (d * DAY + hi) or nil, lo and (d * DAY + lo) or nil)
        add_day_base(d, b.r, lo ~= nil)
      end)
    elseif f == 't' then
      fold_packed(SERVICE_DAYS, cache[f], cut, function(d, b) set_ticket_base_last(d * DAY + b.ms) end)
    else
      if p == 'a:' then
        local od, eff = string.match(f, '^a:([^:]*):(.*)$')
        eff = tonumber(eff)
        if eff <= cut then
          local b = split(cache[f])
          add_order_base(num(b[1]), num(b[2]), num(b[3]), nil)
          add_day_base(tonumber(od), num(b[2]), false)
          del(f)
        end
      elseif p == 'o:' or p == 'w:' or p == 't:' then
        local d = tonumber(string.sub(f, 3))
        if d <= cut then
          local b = split(cache[f])
          if p == 'o:' then
            -- Live times go to the base; those of orders cancelled on a later day are dropped (§15).
            local lo, hi = nil, nil
            for x in string.gmatch(b[4] or '', '[^ ]+') do
              local v = tonumber(x)
              if lo == nil or v < lo then lo = v end
              if hi == nil or v > hi then hi = v end
            end
            add_order_base(num(b[1]), num(b[2]), num(b[3]), hi and (d * DAY + hi) or nil, lo and (d * DAY + lo) or nil)
            add_day_base(d, num(b[2]), lo ~= nil)
          elseif p == 'w:' then
            max_field('wb', d * DAY + num(b[1]))
          else
            set_ticket_base_last(d * DAY + num(b[1]))
          end
          del(f)
        end
      elseif p == 'n:' or p == 'u:' then
        -- Order states and refund identities leave with their order's day (its contribution is in the buckets).
        local d = p == 'n:' and order_state_day(cache[f]) or tonumber(string.match(cache[f], '^[^,]*'))
        if d <= cut then del(f) end
      elseif p == 'k:' or p == 'K:' then
        -- A ticket in both forms is folded once: read_ticket merges them, and all its fields leave.
        local tid = string.sub(f, 3)
        local st = read_ticket(tid)
        if st ~= nil and st.code == 'C' and st.at ~= nil and day_of(st.at) <= cut then
          if st.opened ~= nil and st.resolved ~= nil then
            local b = split(get('tb') or '')
            set('tb', join_trim({ b[1] or '', num(b[2]) + (st.resolved - st.opened), num(b[3]) + 1 }, 3))
          end
          for _, g in ipairs({ 'K:' .. tid, 'k:' .. tid, 'q:' .. tid }) do
            if cache[g] then del(g) end
          end
        end
      end
    end
  end
  if fold then
    -- The whole hash is in the cache: the exact lower bound of what is left.
    local lb = nil
    for f, v in pairs(cache) do
      if v ~= false then
        local p, d = string.sub(f, 1, 2), nil
        if p == 'o:' or p == 'w:' or p == 't:' then
          d = tonumber(string.sub(f, 3))
        elseif p == 'a:' then
          d = tonumber(string.match(f, '^a:[^:]*:(.*)$'))
        elseif p == 'n:' then
          d = order_state_day(v)
        elseif p == 'u:' then
          d = tonumber(string.match(v, '^[^,]*'))
        elseif p == 'k:' then
          local st = split(v)
          if st[3] == 'C' and st[4] ~= nil and st[4] ~= '' then d = day_of(tonumber(st[4])) end
        elseif p == 'K:' then
          local st = ticket_decode(v)
          if st.code == 'C' then d = day_of(st.at) end
        elseif f == 'o' or f == 't' then
          each_record(f == 'o' and ORDER_DAYS or SERVICE_DAYS, v, function(day) d = day end)
        elseif f == 'w' or f == 'W' then
          -- Latest day first: the last record is the earliest day.
          each_web_record(f, v, function(wd) d = wd end)
        end
        if d ~= nil and (lb == nil or d < lb) then lb = d end
      end
    end
    -- Nothing foldable left: any later bucket lowers it again.
    lower_bound = lb or 2147483647
    set('lb', fmt(lower_bound))
  end
end

local hset, hdel = {}, nil
for f, _ in pairs(dirty) do
  local v = cache[f]
  if v == false then
    if hdel == nil then hdel = {} end
    hdel[#hdel + 1] = f
  else
    hset[#hset + 1] = f; hset[#hset + 1] = v
  end
end
if hdel ~= nil then redis.call('HDEL', key, unpack(hdel)) end
if #hset > 0 then redis.call('HSET', key, unpack(hset)) end
end

-- SUPPRESSION (security, issue 19): an erased customer's events must not re-create its state. Its suppression marker
-- (KEYS[n + k], in its slot) is checked here, in the call that would write: a suppressed customer gets zeros and
-- nothing is read or written. The markers are optional (all or none): n is counted from ARGV.
local n, walk = 0, 3
while walk <= #ARGV do
  n = n + 1
  walk = walk + 1 + 2 * tonumber(ARGV[walk])
end
-- IDENTITY (issue 20): a customer merged into another (`to` in its identity hash, KEYS[2n + k], same slot) takes no
-- more events: the merge fold read (or will read) its aggregates as they are. Checked here, in the call that would
-- write, so no event can land between the caller's routing and the write: the customer's result is MOVED (-2),
-- nothing is read or written, and the caller routes its records again.
local checked = #KEYS >= 2 * n
local identity = #KEYS == 3 * n
local out, pos = {}, 3
for k = 1, n do
  local count = tonumber(ARGV[pos])
  local first, last = pos + 1, pos + 2 * count
  if checked and redis.call('EXISTS', KEYS[n + k]) == 1 then
    applied, min_at, max_at, excess, expired = 0, nil, nil, 0, 0
  elseif identity and redis.call('HEXISTS', KEYS[2 * n + k], 'to') == 1 then
    applied, min_at, max_at, excess, expired = -2, nil, nil, 0, 0
  else
    key, cache, dirty = KEYS[k], {}, {}
    applied, min_at, max_at, excess, expired = 0, nil, nil, 0, 0
    web_delta, dedupe, conflict = nil, {}, false
    order_days, service_days = nil, nil
    preread(first, last)
    -- `lb`: a lower bound of the days at which fields become foldable (see lower_bound_to).
    lower_bound = opt(get('lb'))
    mx = opt(get('mx'))
    initial_cutoff = cutoff_day()
    run_events(first, last)
    if conflict then
      -- Nothing written (writes happen in finish only).
      applied, min_at, max_at, excess, expired = -1, nil, nil, 0, 0
    else
      finish()
    end
  end
  out[#out + 1] = applied
  out[#out + 1] = min_at or 0
  out[#out + 1] = max_at or 0
  out[#out + 1] = excess
  out[#out + 1] = expired
  pos = last + 1
end
return out
