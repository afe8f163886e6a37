-- @title One customer's transitions
-- @description Every tier transition of one customer (each transition_id once) in the order they happened (occurred_at,
-- then dimension), with the reason, the rule that decided it, the rules and cut-point versions in force and the
-- numbers behind it (metric_names[i] = metric_values[i], the metrics the rule read, as of the transition). With more
-- than `limit` transitions the newest `limit` are kept. Leave `dimension` empty for all dimensions. The table is ordered
-- by day, not customer: this reads every row of tier_transitions (fine for an interactive page; not a bulk export).
-- @param customer_id String -- the customer
-- @param dimension String '' -- only this dimension; empty = all
-- @param limit UInt32 1000 -- maximum rows (the newest)
-- @example npm run tierctl -- sql customer_transitions --param customer_id=C001691
SELECT
    occurred_at,
    occurred_day AS day,
    dimension,
    from_tier,
    to_tier,
    direction,
    reason,
    rule_id,
    rules_version,
    cutpoints_version,
    metric_names,
    metric_values,
    transition_id
FROM
(
    SELECT *
    FROM {db:Identifier}.tier_transitions FINAL
    WHERE customer_id = {customer_id:String} AND ({dimension:String} = '' OR dimension = {dimension:String})
    ORDER BY occurred_at DESC, dimension DESC, transition_id DESC
    LIMIT {limit:UInt32}
)
ORDER BY occurred_at, dimension, transition_id
