-- @title Transitions per day, reason and dimension
-- @description Number of tier transitions (each transition_id once) per day (UTC, by occurred_at), dimension and
-- reason, split by direction, with the number of distinct customers. Leave `dimension` empty for all dimensions.
-- @param from Date -- first day, inclusive
-- @param to Date -- last day, inclusive
-- @param dimension String '' -- only this dimension; empty = all
-- @example npm run tierctl -- sql transitions_by_reason --param from=1998-03-01 --param to=1998-03-07 --param dimension=lifecycle
SELECT
    occurred_day AS day,
    dimension,
    reason,
    count() AS transitions,
    countIf(direction = 'UP') AS up,
    countIf(direction = 'DOWN') AS down,
    countIf(direction = 'ENTER') AS enter,
    countIf(direction = 'LATERAL') AS lateral,
    uniqExact(customer_id) AS customers
FROM
(
    SELECT occurred_day, dimension, reason, direction, customer_id
    FROM {db:Identifier}.tier_transitions FINAL
    WHERE occurred_day >= {from:Date} AND occurred_day <= {to:Date}
)
WHERE {dimension:String} = '' OR dimension = {dimension:String}
GROUP BY day, dimension, reason
ORDER BY day, dimension, reason
