-- The code table of compact tier states (packages/tierstate/src/state-codec.ts, docs/design-decisions.md §23).
-- KEYS[1] code hash: `gen` = the table's generation, `next` = the next code, `s:<string>` = the code of a string
-- ARGV[1] a generation id for a table created by this call   ARGV[2..] strings to code
-- Returns {generation, code of ARGV[2], code of ARGV[3], ...}. Codes are 0, 1, 2, … in order of first use and never
-- change: a reader may cache them for as long as the generation is the same (a new one means the table was deleted).
local gen = redis.call('HGET', KEYS[1], 'gen')
if not gen then
  gen = ARGV[1]
  redis.call('HSET', KEYS[1], 'gen', gen, 'next', 0)
end
local out = { gen }
for i = 2, #ARGV do
  local field = 's:' .. ARGV[i]
  local code = redis.call('HGET', KEYS[1], field)
  if not code then
    code = redis.call('HINCRBY', KEYS[1], 'next', 1) - 1
    redis.call('HSET', KEYS[1], field, code)
  end
  out[#out + 1] = tonumber(code)
end
return out
