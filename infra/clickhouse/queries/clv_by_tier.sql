-- @title Predicted CLV by tier
-- @description Per tier of one dimension (default predicted_value of rules/clv.yaml): customers, their total and mean
-- predicted 365-day value (clv_365d, minor units), mean P(alive) and mean expected orders over 365 days, from the
-- current tiers (tier_current). The predictions are those stored with each customer's current tier row, i.e. as of
-- its metrics_day (the customer's last tier change) under the CLV model in force that day; they are stored only when
-- the rules read them (rules/clv.yaml does). Customers without a prediction count in `customers` only.
-- @param dimension String predicted_value -- tier dimension, e.g. predicted_value, clv_lifecycle, value_tier
-- @example npm run tierctl -- sql clv_by_tier
-- @example npm run tierctl -- sql clv_by_tier --param dimension=clv_lifecycle
SELECT
    tier,
    count() AS customers,
    countIf(has_clv) AS with_prediction,
    sumIf(clv, has_clv) AS clv_365d_total,
    if(with_prediction = 0, NULL, sumIf(clv, has_clv) / with_prediction) AS clv_365d_mean,
    if(countIf(has_p) = 0, NULL, sumIf(p, has_p) / countIf(has_p)) AS p_alive_mean,
    if(countIf(has_e) = 0, NULL, sumIf(e, has_e) / countIf(has_e)) AS expected_orders_365d_mean
FROM
(
    SELECT
        tiers[indexOf(dims, {dimension:String})] AS tier,
        indexOf(metric_names, 'clv_365d') > 0 AS has_clv,
        metric_values[indexOf(metric_names, 'clv_365d')] AS clv,
        indexOf(metric_names, 'p_alive') > 0 AS has_p,
        metric_values[indexOf(metric_names, 'p_alive')] AS p,
        indexOf(metric_names, 'expected_orders_365d') > 0 AS has_e,
        metric_values[indexOf(metric_names, 'expected_orders_365d')] AS e
    FROM {db:Identifier}.tier_current FINAL
)
WHERE tier != ''
GROUP BY tier
ORDER BY clv_365d_mean DESC, tier
