-- @title Customers per tier now
-- @description The current state (tier_current, the latest state_version of each customer): customers per tier of
-- one dimension; tier '' = customers without a tier in the dimension. `metrics_day` = the latest day the rows'
-- metrics are as of.
-- @param dimension String -- tier dimension
SELECT tier, count() AS customers, max(metrics_day) AS metrics_day
FROM
(
    SELECT tiers[indexOf(dims, {dimension:String})] AS tier, metrics_day
    FROM {db:Identifier}.tier_current FINAL
)
GROUP BY tier
ORDER BY tier
