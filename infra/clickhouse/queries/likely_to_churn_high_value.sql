-- @title Likely to churn among high value
-- @description Customers whose current tier in `value_dimension` (default predicted_value) is one of `value_tiers`
-- (default TOP_VALUE and HIGH_VALUE) and whose P(alive) is below `max_p_alive` (default 0.5), highest predicted
-- 365-day value first: the win-back list by predicted value. p_alive, clv_365d (minor units) and expected_orders_365d
-- are those stored with the customer's current tier row, as of its metrics_day (its last tier change) under the CLV
-- model in force that day (p_alive only falls while nothing is bought, so a later day's value is lower still).
-- Customers without a stored p_alive are left out.
-- @param value_dimension String predicted_value -- the value dimension
-- @param value_tiers Array(String) TOP_VALUE,HIGH_VALUE -- comma-separated high-value tiers
-- @param max_p_alive Float64 0.5 -- P(alive) strictly below this
-- @param limit UInt32 1000 -- maximum rows
-- @example npm run tierctl -- sql likely_to_churn_high_value
-- @example npm run tierctl -- sql likely_to_churn_high_value --param max_p_alive=0.3 --param limit=50
SELECT
    customer_id,
    value_tier,
    p_alive,
    clv_365d,
    expected_orders_365d,
    metrics_day
FROM
(
    SELECT
        customer_id,
        tiers[indexOf(dims, {value_dimension:String})] AS value_tier,
        indexOf(metric_names, 'p_alive') > 0 AS has_p,
        metric_values[indexOf(metric_names, 'p_alive')] AS p_alive,
        if(indexOf(metric_names, 'clv_365d') > 0, metric_values[indexOf(metric_names, 'clv_365d')], NULL) AS clv_365d,
        if(indexOf(metric_names, 'expected_orders_365d') > 0,
            metric_values[indexOf(metric_names, 'expected_orders_365d')], NULL) AS expected_orders_365d,
        metrics_day
    FROM {db:Identifier}.tier_current FINAL
)
WHERE has_p AND p_alive < {max_p_alive:Float64} AND has({value_tiers:Array(String)}, value_tier)
ORDER BY clv_365d DESC, customer_id
LIMIT {limit:UInt32}
