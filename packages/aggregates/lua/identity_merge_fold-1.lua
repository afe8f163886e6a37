-- MERGE, step 4 (design-decisions §22), in the survivor's slot: folds the merged customer's aggregate hash, passed as
-- arguments (its slot may be another master's), into the survivor's, once per merge event.
-- KEYS[1] the survivor's aggregate hash (<prefix>:{B}:agg)
-- ARGV[1] the merge's event id   ARGV[2..] the merged customer's hash as field, value pairs (HGETALL), after the
-- orders both ids hold were taken out of it (identity-folds.ts: those orders are re-applied to the survivor as events)
-- Returns 1 when folded, 0 when this merge was folded before (marker field `f:<event id>`).
-- Every field is a sum over events, orders or tickets, so folding is adding (layout: apply_events.lua's header and
-- README "Keyspace"): day buckets, adjustments and bases add, times take max/min, web days merge per day (`w` with
-- `w`, the packed layout's `W` with `W`: a survivor holding both reads them added up), ticket states keep the earliest
-- open/resolve and the latest status; order states (in either form, compact or not) and refund identities the
-- survivor lacks are copied (it holds none of the merged customer's orders now); dedupe memories are concatenated;
-- high-water marks are not (they belong to each id's own records: the merged customer keeps its own, so its
-- redeliveries are known).
-- The helpers below are those of apply_events.lua (same formats), kept in step by the fold's property test.
local key = KEYS[1]
local marker = 'f:' .. ARGV[1]
if redis.call('HEXISTS', key, marker) == 1 then return 0 end

local DAY_BIAS = 1048576
local TIME_BIAS = 281474976710656
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
local function fmt(x)
  if x == math.floor(x) then return string.format('%d', x) end
  return string.format('%.17g', x)
end
local function num(s) if s == nil or s == '' then return 0 end return tonumber(s) end
local function opt(s) if s == nil or s == '' then return nil end return tonumber(s) end
local function join_trim(t, n)
  while n > 1 and (t[n] == 0 or t[n] == '') do n = n - 1 end
  local parts = {}
  for i = 1, n do
    local v = t[i]
    if type(v) == 'number' then parts[i] = fmt(v) else parts[i] = v end
  end
  return table.concat(parts, ',')
end
local function str_gt(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a > #b
end
local function enc128(x, n)
  local b = {}
  for k = n, 1, -1 do b[k] = x % 128; x = math.floor(x / 128) end
  return string.char(unpack(b))
end
local function dec128(s, i, n)
  local x = 0
  for k = i, i + n - 1 do x = x * 128 + string.byte(s, k) end
  return x
end
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

local function enc_var(x)
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
-- The packed layout's web days `W` (apply_events.lua decode_web_compact / encode_web_compact).
local function decode_web_compact(s, i, prev)
  local d
  if i == 1 then
    d = dec128(s, 1, 3) - DAY_BIAS
    i = 4
  else
    local gap
    gap, i = dec_var(s, i)
    d = prev - gap
  end
  local ms = dec128(s, i, 4)
  local mask
  mask, i = dec_var(s, i + 4)
  local counts, t = {}, 0
  while mask > 0 do
    if mask % 2 == 1 then counts[t], i = dec_var(s, i) end
    mask = math.floor(mask / 2)
    t = t + 1
  end
  return d, ms, counts, i
end
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

local mine = {}
for i = 2, #ARGV, 2 do mine[#mine + 1] = ARGV[i] end
local current = {}
if #mine > 0 then
  for from = 1, #mine, 4000 do
    local to = math.min(from + 3999, #mine)
    local vals = redis.call('HMGET', key, unpack(mine, from, to))
    for i = from, to do current[mine[i]] = vals[i - from + 1] end
  end
end
local out = {}
local function put(f, v) out[#out + 1] = f; out[#out + 1] = v end
local function add_list(a, b)
  if a == nil or a == '' then return b or '' end
  if b == nil or b == '' then return a end
  return a .. ' ' .. b
end
local qs = {}
for i = 2, #ARGV, 2 do
  local f, v = ARGV[i], ARGV[i + 1]
  local b = current[f]
  if b == false then b = nil end
  local p = string.sub(f, 1, 2)
  if f == 'mx' or f == 'wb' then
    if b == nil or tonumber(v) > tonumber(b) then put(f, v) end
  elseif f == 'fo' then
    if b == nil or tonumber(v) < tonumber(b) then put(f, v) end
  elseif f == 'lb' then
    if b ~= nil and tonumber(v) < tonumber(b) then put(f, v) end
  elseif f == 'ob' then
    local x, y = split(v), split(b or '0')
    local last, lx = opt(y[4]), opt(x[4])
    if lx ~= nil and (last == nil or lx > last) then last = lx end
    put(f, join_trim({ num(x[1]) + num(y[1]), num(x[2]) + num(y[2]), num(x[3]) + num(y[3]), last and fmt(last) or '' }, 4))
  elseif f == 'tb' then
    local x, y = split(v), split(b or '')
    local last, lx = opt(y[1]), opt(x[1])
    if lx ~= nil and (last == nil or lx > last) then last = lx end
    put(f, join_trim({ last and fmt(last) or '', num(x[2]) + num(y[2]), num(x[3]) + num(y[3]) }, 3))
  elseif f == 'pd' then
    local days, order = {}, {}
    for _, s in ipairs({ b or '', v }) do
      for day, mark, rev in string.gmatch(s, '(%-?%d+)([:~])(%S+)') do
        local e = days[day]
        if e == nil then
          days[day] = { mark = mark, rev = tonumber(rev) }
          order[#order + 1] = day
        else
          if mark == ':' then e.mark = ':' end
          e.rev = e.rev + tonumber(rev)
        end
      end
    end
    local parts = {}
    for k, day in ipairs(order) do parts[k] = day .. days[day].mark .. fmt(days[day].rev) end
    put(f, table.concat(parts, ' '))
  elseif p == 'o:' then
    local x, y = split(v), split(b or '0')
    put(f, join_trim({ num(x[1]) + num(y[1]), num(x[2]) + num(y[2]), num(x[3]) + num(y[3]),
      add_list(y[4], x[4]), add_list(y[5], x[5]) }, 5))
  elseif p == 'a:' then
    local x, y = split(v), split(b or '0')
    local c, r, m = num(x[1]) + num(y[1]), num(x[2]) + num(y[2]), num(x[3]) + num(y[3])
    if c ~= 0 or r ~= 0 or m ~= 0 then put(f, join_trim({ c, r, m }, 3)) elseif b ~= nil then redis.call('HDEL', key, f) end
  elseif p == 't:' then
    local x, y = split(v), split(b or '0')
    put(f, join_trim({ math.max(num(x[1]), num(y[1])), num(x[2]) + num(y[2]), num(x[3]) + num(y[3]),
      num(x[4]) + num(y[4]), num(x[5]) + num(y[5]), num(x[6]) + num(y[6]) }, 6))
  elseif f == 'w' or f == 'W' then
    -- Web days of either form, merged per day (sum the counts, max the time), written in the same form.
    local recs = {}
    for _, s in ipairs({ b or '', v }) do
      local j, prev = 1, nil
      while j <= #s do
        local d, ms, counts, nx
        if f == 'W' then
          d, ms, counts, nx = decode_web_compact(s, j, prev)
        else
          d, ms, counts, nx = decode_web_record(s, j)
        end
        prev = d
        local r = recs[d]
        if r == nil then recs[d] = { ms = ms, counts = counts }
        else
          if ms > r.ms then r.ms = ms end
          for t, c in pairs(counts) do r.counts[t] = (r.counts[t] or 0) + c end
        end
        j = nx
      end
    end
    local all = {}
    for d in pairs(recs) do all[#all + 1] = d end
    table.sort(all, function(x, y) return x > y end)
    if f == 'W' then put(f, encode_web_compact(all, recs)) else
      local parts = {}
      for k, d in ipairs(all) do parts[k] = encode_web_record(d, recs[d].ms, recs[d].counts) end
      put(f, table.concat(parts))
    end
  elseif p == 'w:' then
    -- A web bucket of the previous layout: "lastSeenMsOfDay,typeIndex:count,...".
    if b == nil then put(f, v) else
      local x, y = split(v), split(b)
      local counts, order = {}, {}
      for _, t in ipairs({ y, x }) do
        for k = 2, #t do
          local ti, c = string.match(t[k], '^(%d+):(%d+)$')
          if ti then
            if counts[ti] == nil then order[#order + 1] = ti; counts[ti] = 0 end
            counts[ti] = counts[ti] + tonumber(c)
          end
        end
      end
      local parts = { fmt(math.max(num(x[1]), num(y[1]))) }
      for _, ti in ipairs(order) do parts[#parts + 1] = ti .. ':' .. fmt(counts[ti]) end
      put(f, table.concat(parts, ','))
    end
  elseif p == 'k:' then
    local tid = string.sub(f, 3)
    local qa = nil
    for j = 2, #ARGV, 2 do if ARGV[j] == 'q:' .. tid then qa = ARGV[j + 1]; break end end
    if b == nil then
      put(f, v)
      if qa ~= nil then qs['q:' .. tid] = qa end
    else
      local x, y = split(v), split(b)
      local function min_of(p1, p2)
        local a1, a2 = opt(p1), opt(p2)
        if a1 == nil then return p2 or '' end
        if a2 == nil or a1 < a2 then return p1 end
        return p2
      end
      local st = { min_of(x[1], y[1]), min_of(x[2], y[2]), y[3] or '', y[4] or '' }
      local xa, ya = opt(x[4]), opt(y[4])
      local qb = redis.call('HGET', key, 'q:' .. tid) or ''
      if xa ~= nil and (ya == nil or xa > ya or (xa == ya and str_gt(qa or '', qb))) then
        st[3], st[4] = x[3] or '', x[4] or ''
        if qa ~= nil then qs['q:' .. tid] = qa end
      end
      put(f, table.concat(st, ','))
    end
  elseif p == 'q:' or p == 'h:' or p == 'f:' then
    -- q: with its k: above; high-water marks and fold markers belong to the merged id.
  elseif p == 'e:' and #v >= 7 and string.find(f, ':', 3, true) == nil then
    -- A topic's packed dedupe memory: the later topic time, both ids' entries (pruned at the next apply). Either form
    -- (apply_events.lua dedupe_of): with the topic's time first (length 7 + 16k) or without (16k, the latest entry's).
    if b == nil or #b < 7 then put(f, v) else
      local function split_memory(x)
        if #x % 16 == 7 then return dec128(x, 1, 7), string.sub(x, 8) end
        local tx = 0
        for j = 1, #x - 15, 16 do tx = math.max(tx, dec128(x, j + 9, 7)) end
        return tx, x
      end
      local txb, eb = split_memory(b)
      local txv, ev = split_memory(v)
      local tx = math.max(txv, txb)
      -- Without the time when both had none (the latest entry of either is the later time).
      if #b % 16 == 0 and #v % 16 == 0 then put(f, eb .. ev) else put(f, enc128(tx, 7) .. eb .. ev) end
    end
  elseif b == nil then
    -- Order states and refund identities the survivor lacks, and anything else it lacks (legacy fields): copied.
    put(f, v)
  end
end
for f, v in pairs(qs) do put(f, v) end
-- `lb` is a lower bound of the foldable days: unknown in the merged hash means unknown after the fold.
local has_lb = false
for i = 2, #ARGV, 2 do if ARGV[i] == 'lb' then has_lb = true; break end end
if not has_lb then redis.call('HDEL', key, 'lb') end
put(marker, '1')
for from = 1, #out, 4000 do
  local to = math.min(from + 3999, #out)
  redis.call('HSET', key, unpack(out, from, to))
end
return 1
