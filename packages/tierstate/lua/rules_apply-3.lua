-- Activates a rules version and keeps it in the history (tierctl rules apply / rollback, the engine's start file).
-- KEYS[1] active rules hash   KEYS[2] history hash (apply number -> JSON entry)   KEYS[3] apply counter
-- (all three in the {rules} slot)
-- ARGV[1] version   ARGV[2] YAML text   ARGV[3] applied at (epoch ms)   ARGV[4] source (free text)
-- ARGV[5] '1': only when no version is active yet (the engine recording its RULES_FILE at start); '0' otherwise
-- Returns {apply number, 1} for a new active version, {apply number, 0} when this text is already the active one
-- (nothing written), or a negative code and 0: -1 the version is active with another text, -2 ARGV[5] is '1' and a
-- version is already active, -3 the version was applied before with another text (a version names one text).
local current = redis.call('HMGET', KEYS[1], 'version', 'text', 'seq')
if current[1] then
  if ARGV[5] == '1' then return {-2, 0} end
  if current[1] == ARGV[1] then
    if current[2] == ARGV[2] then return {tonumber(current[3]), 0} end
    return {-1, 0}
  end
end
for _, json in ipairs(redis.call('HVALS', KEYS[2])) do
  local entry = cjson.decode(json)
  if entry.version == ARGV[1] and entry.text ~= ARGV[2] then return {-3, 0} end
end
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'text', ARGV[2], 'appliedAt', ARGV[3], 'source', ARGV[4], 'seq', seq)
redis.call('HSET', KEYS[2], tostring(seq), cjson.encode({
  seq = seq, version = ARGV[1], text = ARGV[2], appliedAt = ARGV[3], source = ARGV[4]
}))
return {seq, 1}
