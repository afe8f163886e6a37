-- @title Tier migration matrix
-- @description How many customers moved from each tier on day `from` to each tier on day `to` (from the daily
-- snapshots). '(none)' means the customer had no snapshot, or no tier in the dimension, on that day.
-- @param dimension String value_tier -- tier dimension
-- @param from Date -- the earlier snapshot day
-- @param to Date -- the later snapshot day
-- @example npm run tierctl -- sql migration_matrix --param from=2024-01-31 --param to=2024-02-29
SELECT
    if(tier_from = '', '(none)', tier_from) AS from_tier,
    if(tier_to = '', '(none)', tier_to) AS to_tier,
    count() AS customers
FROM
(
    SELECT
        customer_id,
        maxIf(tier, snapshot_day = {from:Date}) AS tier_from,
        maxIf(tier, snapshot_day = {to:Date}) AS tier_to
    FROM
    (
        SELECT snapshot_day, customer_id, tiers[indexOf(dims, {dimension:String})] AS tier
        FROM {db:Identifier}.tier_snapshots FINAL
        WHERE snapshot_day = {from:Date} OR snapshot_day = {to:Date}
    )
    GROUP BY customer_id
)
WHERE NOT (tier_from = '' AND tier_to = '')
GROUP BY from_tier, to_tier
ORDER BY from_tier, to_tier
