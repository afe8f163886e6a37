-- @title Latest transitions
-- @description The latest tier transitions (each transition_id once) that occurred between `from` and `to` (UTC days,
-- inclusive), newest first, of one dimension or of all (`dimension` ''), at most `limit`.
-- @param from Date -- first day, inclusive
-- @param to Date -- last day, inclusive
-- @param dimension String '' -- only this dimension; empty = all
-- @param limit UInt32 50 -- at most this many transitions
SELECT
    transition_id,
    customer_id,
    dimension,
    ifNull(from_tier, '') AS from_tier,
    to_tier,
    direction,
    reason,
    rule_id,
    occurred_day AS day,
    occurred_at
FROM
(
    SELECT transition_id, customer_id, dimension, from_tier, to_tier, direction, reason, rule_id, occurred_day, occurred_at
    FROM {db:Identifier}.tier_transitions FINAL
    WHERE occurred_day >= {from:Date} AND occurred_day <= {to:Date}
)
WHERE {dimension:String} = '' OR dimension = {dimension:String}
ORDER BY occurred_at DESC, transition_id
LIMIT {limit:UInt32}
