-- @title Revenue share per tier
-- @description Customers and revenue per tier as of one snapshot day, with each tier's share of all customers and of
-- all revenue. Answers "does the top 20% hold ~80% of revenue?": compare customer_share with revenue_share of the top
-- tier. Shares are over customers that have a tier in the dimension.
-- @param day Date -- snapshot day
-- @param dimension String value_tier -- tier dimension
-- @param metric String revenue_365d -- revenue metric, e.g. revenue_365d or revenue_lifetime
-- @example npm run tierctl -- sql revenue_share --param day=2024-03-31
SELECT
    tier,
    customers,
    revenue,
    round(customers / total_customers, 4) AS customer_share,
    round(if(total_revenue = 0, 0, revenue / total_revenue), 4) AS revenue_share
FROM
(
    SELECT tier, count() AS customers, sum(revenue) AS revenue, 1 AS k
    FROM
    (
        SELECT tiers[indexOf(dims, {dimension:String})] AS tier, metric_values[indexOf(metric_names, {metric:String})] AS revenue
        FROM {db:Identifier}.tier_snapshots FINAL
        WHERE snapshot_day = {day:Date}
    )
    WHERE tier != ''
    GROUP BY tier
) AS per_tier
ANY LEFT JOIN
(
    SELECT count() AS total_customers, sum(revenue) AS total_revenue, 1 AS k
    FROM
    (
        SELECT tiers[indexOf(dims, {dimension:String})] AS tier, metric_values[indexOf(metric_names, {metric:String})] AS revenue
        FROM {db:Identifier}.tier_snapshots FINAL
        WHERE snapshot_day = {day:Date}
    )
    WHERE tier != ''
) AS totals USING k
ORDER BY revenue DESC, tier
