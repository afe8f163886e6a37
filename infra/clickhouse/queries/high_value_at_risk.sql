-- @title High-value customers at risk
-- @description Customers whose current value tier is one of `value_tiers` (default PLATINUM and GOLD) and whose current
-- lifecycle is `lifecycle` (default AT_RISK), highest revenue first: the list for a win-back campaign.
-- @param value_tiers Array(String) PLATINUM,GOLD -- comma-separated value tiers
-- @param lifecycle String AT_RISK -- lifecycle tier
-- @param limit UInt32 1000 -- maximum rows
-- @example npm run tierctl -- sql high_value_at_risk --param value_tiers=PLATINUM --param limit=50
SELECT
    customer_id,
    value_tier,
    lifecycle,
    rfm_segment,
    revenue_365d,
    recency_days,
    as_of
FROM
(
    SELECT
        customer_id,
        tiers[indexOf(dims, 'value_tier')] AS value_tier,
        tiers[indexOf(dims, 'lifecycle')] AS lifecycle,
        tiers[indexOf(dims, 'rfm_segment')] AS rfm_segment,
        metric_values[indexOf(metric_names, 'revenue_365d')] AS revenue_365d,
        metric_values[indexOf(metric_names, 'recency_days')] AS recency_days,
        as_of
    FROM {db:Identifier}.tier_current FINAL
)
WHERE has({value_tiers:Array(String)}, value_tier) AND lifecycle = {lifecycle:String}
ORDER BY revenue_365d DESC, customer_id
LIMIT {limit:UInt32}
