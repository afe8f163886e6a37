-- @title Tier distribution per day
-- @description Number of customers in each tier of one dimension, per day, from the daily snapshots.
-- Customers without a tier in the dimension are not counted.
-- @param dimension String value_tier -- tier dimension, e.g. value_tier, rfm_segment, lifecycle, value_potential
-- @param from Date -- first day, inclusive
-- @param to Date -- last day, inclusive
-- @example npm run tierctl -- sql tier_distribution_daily --param dimension=lifecycle --param from=2024-03-01 --param to=2024-03-31
SELECT
    snapshot_day AS day,
    tier,
    count() AS customers
FROM
(
    SELECT snapshot_day, tiers[indexOf(dims, {dimension:String})] AS tier
    FROM {db:Identifier}.tier_snapshots FINAL
    WHERE snapshot_day >= {from:Date} AND snapshot_day <= {to:Date}
)
WHERE tier != ''
GROUP BY day, tier
ORDER BY day, tier
