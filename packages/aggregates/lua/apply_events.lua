-- Applies one customer's events of a batch to the customer's aggregate hash, atomically and idempotently.
--
-- KEYS[1]  the customer's hash (`<prefix>:{<customerId>}:agg`)
-- ARGV[1]  dedupe horizon in ms;  ARGV[2] retention in days (buckets kept for days > maxDay - retention)
-- ARGV[3..] events, 9 arguments each, in delivery order:
--   topic, partition, offset, event_id, occurred_at_ms, op, x1, x2, x3
--   op P/R/C (order PLACED/REFUNDED/CANCELLED): x1 amount (reporting minor units), x2 margin or '', x3 bucket time
--        (occurred_at for P, original_placed_at for R/C)
--   op W (web): x1 type index (0-based, WEB_BEHAVIOR_TYPES order)
--   op T (ticket): x1 ticket_id, x2 O|E|P|R|C|S (OPENED ESCALATED REOPENED RESOLVED CLOSED SATISFACTION_RATED),
--        x3 '1' for a COMPLAINT OPENED, the csat value for S, else ''
-- Returns {applied, min occurred_at applied, max occurred_at applied} (0, 0, 0 when nothing was applied).
--
-- Hash fields (see README "Keyspace"): mx fo ob wb tb, x:<topic code>, a:<order day>:<effective day>, o:<day> w:<day> t:<day>, k:<ticket> q:<ticket>,
-- h:<topic>:<partition>, e:<topic code>:<event_id>.

local key = KEYS[1]
local horizon = tonumber(ARGV[1])
local retention = tonumber(ARGV[2])
local DAY = 86400000

local h = {}
local raw = redis.call('HGETALL', key)
for i = 1, #raw, 2 do h[raw[i]] = raw[i + 1] end
local dirty = {}
local function set(f, v) h[f] = v; dirty[f] = true end
local function del(f) h[f] = nil; dirty[f] = true end

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

local mx = opt(h['mx'])
local function cutoff_day() if mx == nil then return nil end return day_of(mx) - retention end
local initial_cutoff = cutoff_day()

-- Lifetime base for orders: count, revenue, margin, last PLACED time among folded.
local function add_order_base(dc, dr, dm, placed_at)
  local b = split(h['ob'] or '0')
  local last = opt(b[4])
  if placed_at ~= nil and (last == nil or placed_at > last) then last = placed_at end
  set('ob', join_trim({ num(b[1]) + dc, num(b[2]) + dr, num(b[3]) + dm, last and fmt(last) or '' }, 4))
end

local function add_order(bucket_day, dc, dr, dm, placed_at)
  local cut = cutoff_day()
  if bucket_day <= cut then add_order_base(dc, dr, dm, placed_at); return end
  local f = 'o:' .. bucket_day
  local b = split(h[f] or '0')
  local ms = opt(b[4])
  if placed_at ~= nil then
    local pms = placed_at - bucket_day * DAY
    if ms == nil or pms > ms then ms = pms end
  end
  set(f, join_trim({ num(b[1]) + dc, num(b[2]) + dr, num(b[3]) + dm, ms and fmt(ms) or '' }, 4))
end

-- A refund or cancellation subtracts from its original order's day, but only from the day it happened on: as of an
-- earlier day the order still counts in full (the pipeline must not know the future, or a replay would depend on
-- how far the aggregator ran ahead). Same day: straight into the order bucket. Field a:<order day>:<effective day>.
local function add_adjustment(order_day, effective_day, dc, dr, dm)
  if effective_day <= order_day then add_order(order_day, dc, dr, dm, nil); return end
  local cut = cutoff_day()
  if effective_day <= cut then add_order_base(dc, dr, dm, nil); return end
  local f = 'a:' .. order_day .. ':' .. effective_day
  local b = split(h[f] or '0')
  set(f, join_trim({ num(b[1]) + dc, num(b[2]) + dr, num(b[3]) + dm }, 3))
end

local function max_field(f, at)
  local cur = opt(h[f])
  if cur == nil or at > cur then set(f, fmt(at)) end
end

local function set_ticket_base_last(at)
  local b = split(h['tb'] or '')
  local last = opt(b[1])
  if last == nil or at > last then
    set('tb', join_trim({ fmt(at), num(b[2]), num(b[3]) }, 3))
  end
end

-- Web bucket: "lastSeenMsOfDay,typeIndex:count,..."
local function add_web(at, type_index)
  local d = day_of(at)
  if d <= cutoff_day() then max_field('wb', at); return end
  local f = 'w:' .. d
  local ms = at - d * DAY
  local counts = {}
  local cur = h[f]
  if cur then
    local parts = split(cur)
    if num(parts[1]) > ms then ms = num(parts[1]) end
    for i = 2, #parts do
      local c = string.find(parts[i], ':', 1, true)
      counts[tonumber(string.sub(parts[i], 1, c - 1))] = tonumber(string.sub(parts[i], c + 1))
    end
  end
  counts[type_index] = (counts[type_index] or 0) + 1
  local out = { fmt(ms) }
  for i = 0, 31 do
    if counts[i] then out[#out + 1] = i .. ':' .. fmt(counts[i]) end
  end
  set(f, table.concat(out, ','))
end

-- Service bucket: "lastTicketMsOfDay,tickets,complaints,escalations,csatSum,csatCount"
local function add_service(at, code, x3)
  local d = day_of(at)
  if d <= cutoff_day() then set_ticket_base_last(at); return end
  local f = 't:' .. d
  local b = split(h[f] or '0')
  local ms = at - d * DAY
  if num(b[1]) > ms then ms = num(b[1]) end
  local tickets, complaints, escalations = num(b[2]), num(b[3]), num(b[4])
  local csum, ccount = num(b[5]), num(b[6])
  if code == 'O' then
    tickets = tickets + 1
    if x3 == '1' then complaints = complaints + 1 end
  elseif code == 'E' then
    escalations = escalations + 1
  elseif code == 'S' and x3 ~= '' then
    csum = csum + tonumber(x3)
    ccount = ccount + 1
  end
  set(f, join_trim({ ms, tickets, complaints, escalations, csum, ccount }, 6))
end

-- Ticket state: "openedAt,resolvedAt,statusCode,statusAt"; q:<ticket> holds the status event's id (tie-break).
local function add_ticket_state(tid, code, at, eid)
  if code ~= 'O' and code ~= 'P' and code ~= 'R' and code ~= 'C' then return end
  local kf, qf = 'k:' .. tid, 'q:' .. tid
  local st = split(h[kf] or ',,,')
  local opened, resolved, status_at = opt(st[1]), opt(st[2]), opt(st[4])
  if code == 'O' and (opened == nil or at < opened) then st[1] = fmt(at) end
  if (code == 'R' or code == 'C') and (resolved == nil or at < resolved) then st[2] = fmt(at) end
  if status_at == nil or at > status_at or (at == status_at and str_gt(eid, h[qf] or '')) then
    st[3] = code
    st[4] = fmt(at)
    set(qf, eid)
  end
  set(kf, table.concat({ st[1] or '', st[2] or '', st[3] or '', st[4] or '' }, ','))
end

local applied, min_at, max_at = 0, nil, nil
-- Short per-topic codes (4 hex digits of the topic name's SHA-1) keep the per-event dedupe fields small.
local topic_codes = {}
local n = #ARGV
for i = 3, n, 9 do
  local topic, partition, offset, eid = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local at = tonumber(ARGV[i + 4])
  local op, x1, x2, x3 = ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8]
  local hf = 'h:' .. topic .. ':' .. partition
  local hw = h[hf]
  -- 1. Redelivery: a record at or below this customer's high-water offset of its partition was applied before.
  if hw == nil or offset_gt(offset, hw) then
    set(hf, offset)
    -- 2. Duplicate event_id still remembered (within the dedupe horizon): skip.
    -- The horizon is measured per input topic (from the latest event time of that topic for this customer): the
    -- topics are consumed independently, and a lagging topic's ids must not be forgotten because another topic ran
    -- ahead in event time. Ids are unique within a topic.
    local tc = topic_codes[topic]
    if tc == nil then tc = string.sub(redis.sha1hex(topic), 1, 4); topic_codes[topic] = tc end
    local ef = 'e:' .. tc .. ':' .. eid
    if h[ef] == nil then
      if mx == nil or at > mx then mx = at; set('mx', fmt(at)) end
      local xf = 'x:' .. tc
      local tx = opt(h[xf])
      if tx == nil or at > tx then tx = at; set(xf, fmt(at)) end
      if at >= tx - horizon then set(ef, fmt(at)) end
      applied = applied + 1
      if min_at == nil or at < min_at then min_at = at end
      if max_at == nil or at > max_at then max_at = at end
      if op == 'P' then
        local fo = opt(h['fo'])
        if fo == nil or at < fo then set('fo', fmt(at)) end
        add_order(day_of(tonumber(x3)), 1, tonumber(x1), num(x2), at)
      elseif op == 'R' then
        add_adjustment(day_of(tonumber(x3)), day_of(at), 0, -tonumber(x1), -num(x2))
      elseif op == 'C' then
        add_adjustment(day_of(tonumber(x3)), day_of(at), -1, -tonumber(x1), -num(x2))
      elseif op == 'W' then
        add_web(at, tonumber(x1))
      elseif op == 'T' then
        add_service(at, x2, x3)
        add_ticket_state(x1, x2, at, eid)
      else
        return redis.error_reply('unknown op ' .. tostring(op))
      end
    end
  end
end

-- Retention: fold buckets (and long-closed tickets) that fell behind the cutoff, prune the dedupe memory.
local cut = cutoff_day()
if cut ~= nil then
  local fields = {}
  for f, _ in pairs(h) do fields[#fields + 1] = f end
  local advanced = initial_cutoff == nil or cut > initial_cutoff
  for _, f in ipairs(fields) do
    local p = string.sub(f, 1, 2)
    if p == 'e:' then
      local t = string.match(f, '^e:([^:]*):')
      local tx = t and opt(h['x:' .. t])
      if tx == nil or tonumber(h[f]) < tx - horizon then del(f) end
    elseif advanced then
      if p == 'a:' then
        local eff = tonumber(string.match(f, '^a:[^:]*:(.*)$'))
        if eff <= cut then
          local b = split(h[f])
          add_order_base(num(b[1]), num(b[2]), num(b[3]), nil)
          del(f)
        end
      elseif p == 'o:' or p == 'w:' or p == 't:' then
        local d = tonumber(string.sub(f, 3))
        if d <= cut then
          local b = split(h[f])
          if p == 'o:' then
            local ms = opt(b[4])
            add_order_base(num(b[1]), num(b[2]), num(b[3]), ms and (d * DAY + ms) or nil)
          elseif p == 'w:' then
            max_field('wb', d * DAY + num(b[1]))
          else
            set_ticket_base_last(d * DAY + num(b[1]))
          end
          del(f)
        end
      elseif p == 'k:' then
        local st = split(h[f])
        local status_at = opt(st[4])
        if st[3] == 'C' and status_at ~= nil and day_of(status_at) <= cut then
          local opened, resolved = opt(st[1]), opt(st[2])
          if opened ~= nil and resolved ~= nil then
            local b = split(h['tb'] or '')
            set('tb', join_trim({ b[1] or '', num(b[2]) + (resolved - opened), num(b[3]) + 1 }, 3))
          end
          del(f)
          del('q:' .. string.sub(f, 3))
        end
      end
    end
  end
end

local hset, hdel = {}, {}
for f, _ in pairs(dirty) do
  if h[f] == nil then hdel[#hdel + 1] = f else hset[#hset + 1] = f; hset[#hset + 1] = h[f] end
end
if #hdel > 0 then redis.call('HDEL', key, unpack(hdel)) end
if #hset > 0 then redis.call('HSET', key, unpack(hset)) end

return { applied, min_at or 0, max_at or 0 }
