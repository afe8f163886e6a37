-- @title High-value customers at risk
-- @description Customers whose current value tier is one of `value_tiers` (default PLATINUM and GOLD) and whose current
-- lifecycle is `lifecycle` (default AT_RISK), highest revenue first: the list for a win-back campaign. Tiers are the
-- current ones (tier_current); revenue_365d and recency_days are those of `day` (default 1970-01-01: the last day the
-- warehouse has evaluated, the greatest basis_day of metric_history) from the metric history, not the numbers of the
-- customer's last tier change: recency_days is derived from last_order_at on that day. A customer without a metric
-- history row on or before the day keeps the numbers of its tier_current row. `metrics_day` says which day each row's
-- numbers are as of.
-- @param value_tiers Array(String) PLATINUM,GOLD -- comma-separated value tiers
-- @param lifecycle String AT_RISK -- lifecycle tier
-- @param day Date 1970-01-01 -- the day of the metrics; 1970-01-01 = the last day in metric_history
-- @param limit UInt32 1000 -- maximum rows
-- @example npm run tierctl -- sql high_value_at_risk --param value_tiers=PLATINUM --param limit=50
-- @example npm run tierctl -- sql high_value_at_risk --param day=1998-06-30
SELECT
    customer_id,
    value_tier,
    lifecycle,
    rfm_segment,
    if(fresh, history_revenue, current_revenue) AS revenue_365d,
    if(fresh, history_recency, current_recency) AS recency_days,
    if(fresh, metrics_on, current_metrics_day) AS metrics_day,
    as_of
FROM
(
    SELECT
        customer_id,
        value_tier,
        lifecycle,
        rfm_segment,
        current_revenue,
        current_recency,
        current_metrics_day,
        as_of,
        history_revenue,
        history_recency,
        metrics_on,
        has_history = 1 AS fresh
    FROM
    (
        SELECT
            customer_id,
            tiers[indexOf(dims, 'value_tier')] AS value_tier,
            tiers[indexOf(dims, 'lifecycle')] AS lifecycle,
            tiers[indexOf(dims, 'rfm_segment')] AS rfm_segment,
            metric_values[indexOf(metric_names, 'revenue_365d')] AS current_revenue,
            metric_values[indexOf(metric_names, 'recency_days')] AS current_recency,
            metrics_day AS current_metrics_day,
            as_of
        FROM {db:Identifier}.tier_current FINAL
    ) AS current_state
    ANY LEFT JOIN
    (
        -- The metric row in effect on the day: greatest (basis_day, valid_from) among rows valid from the day or before.
        SELECT
            customer_id,
            toUInt8(1) AS has_history,
            argMax(revenue, (basis_day, valid_from)) AS history_revenue,
            argMax(recency, (basis_day, valid_from)) AS history_recency,
            any(on_day) AS metrics_on
        FROM
        (
            SELECT
                customer_id,
                basis_day,
                valid_from,
                on_day,
                metric_values[indexOf(metric_names, 'revenue_365d')] AS revenue,
                if(indexOf(metric_names, 'last_order_at') > 0,
                    toFloat64(toInt32(on_day) - toInt32(intDiv(toInt64(metric_values[indexOf(metric_names, 'last_order_at')]), 86400000))),
                    metric_values[indexOf(metric_names, 'recency_days')]) AS recency
            FROM
            (
                SELECT
                    customer_id, basis_day, valid_from, metric_names, metric_values,
                    if({day:Date} = toDate('1970-01-01'), (SELECT max(basis_day) FROM {db:Identifier}.metric_history), {day:Date}) AS on_day
                FROM {db:Identifier}.metric_history FINAL
            )
            WHERE valid_from <= on_day
        )
        GROUP BY customer_id
    ) AS metrics_on_day USING customer_id
)
WHERE has({value_tiers:Array(String)}, value_tier) AND lifecycle = {lifecycle:String}
ORDER BY revenue_365d DESC, customer_id
LIMIT {limit:UInt32}
