-- MERGE, step 1 of 3 (design-decisions §22), in the slot of the merged id A: A's root becomes B.
-- KEYS[1] A's identity hash (<prefix>:{A}:idn)   KEYS[2] A's erasure suppression marker (<prefix>:{A}:erased)
-- ARGV[1] the merge's event id   ARGV[2] B's root (resolved by the caller; the caller checked root(B) ~= A)
-- ARGV[3] the merge's occurred_at (epoch ms)
-- Returns {0, ''} merged now; {1, <survivor>} this event merged A before, into <survivor> (a redelivery: the caller
-- redoes steps 2 and 3 with the survivor of the first application);
-- {-5, ''} A is erased (ERASED_ID); {-3, <survivor>} A was merged before by another event, into <survivor> (the
-- caller says duplicate when root(survivor) = root(B), else ALREADY_MERGED).
-- Fields of the identity hash: `tb` the survivor named when merged (never changes), `to` the root it leads to (the
-- survivor, moved to the new root when the survivor is merged in turn: chains are compressed), `tm` merge event id,
-- `ta` merge time; `mg:<id>` = event id of each merge into this id; `al:<anonymous id>` = alias time.
if redis.call('EXISTS', KEYS[2]) == 1 then return {-5, ''} end
local cur = redis.call('HMGET', KEYS[1], 'to', 'tm', 'tb')
if cur[1] then
  if cur[2] == ARGV[1] then return {1, cur[3]} end
  return {-3, cur[1]}
end
redis.call('HSET', KEYS[1], 'to', ARGV[2], 'tb', ARGV[2], 'tm', ARGV[1], 'ta', ARGV[3])
return {0, ''}
