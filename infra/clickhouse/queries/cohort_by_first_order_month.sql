-- @title Cohorts by first-order month
-- @description Customers by the month (UTC) of their first order, split by their current tier in one dimension.
-- Customers without an order (no first_order_at metric) are reported under '(no order)'.
-- @param dimension String value_tier -- tier dimension
-- @example npm run tierctl -- sql cohort_by_first_order_month --param dimension=lifecycle
SELECT
    if(i = 0, '(no order)', substring(toString(toStartOfMonth(toDate('1970-01-01') + toInt32(intDiv(toInt64(first_order_at), 86400000)))), 1, 7)) AS first_order_month,
    tier,
    count() AS customers
FROM
(
    SELECT
        tiers[indexOf(dims, {dimension:String})] AS tier,
        indexOf(metric_names, 'first_order_at') AS i,
        metric_values[indexOf(metric_names, 'first_order_at')] AS first_order_at
    FROM {db:Identifier}.tier_current FINAL
)
WHERE tier != ''
GROUP BY first_order_month, tier
ORDER BY first_order_month, tier
