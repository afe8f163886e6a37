-- Moves a partition from the previous layout (docs/design-decisions.md §23, "Upgrade"), in steps.
-- KEYS[1] due index   KEYS[2] previous touch counters (hash)   KEYS[3] previous customer set (all in the {p<n>} slot)
-- ARGV[1] customers moved per call
-- Every customer of the previous set joins the due index (at +inf unless it is due: ZADD NX keeps a due instant) and
-- leaves the set; the touch counters are deleted (this build's touch is the due score: they only served evaluations
-- of the previous engine, which has stopped). Returns the number of customers still in the previous set.
redis.call('DEL', KEYS[2])
local ids = redis.call('SPOP', KEYS[3], tonumber(ARGV[1]))
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], 'NX', '+inf', id)
end
return redis.call('SCARD', KEYS[3])
