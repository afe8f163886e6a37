-- @title One customer on one day
-- @description A customer's tiers and metrics as of one day, one row per dimension (kind 'tier') and per metric
-- (kind 'metric'). Tiers come from the customer's latest tier_history row on or before the day (valid_from = the day
-- of that change; basis_day = valid_from); metrics from its metric_history row with the greatest basis_day, then
-- valid_from, among the rows valid from the day or before (basis_day = the evaluation that computed them). Money,
-- counts and windows are exact on every day; recency_days, tenure_days, days_since_* and engagement_score are exact
-- only when valid_from = day (derive recency from last_order_at). No rows: not a customer yet on that day.
-- @param customer_id String -- the customer
-- @param day Date -- the day
-- @example npm run tierctl -- sql customer_on_day --param customer_id=C001691 --param day=2026-03-31
SELECT kind, name, value, valid_from, basis_day
FROM
(
    SELECT 'tier' AS kind, dimension AS name, tier AS value, tiers_from AS valid_from, tiers_from AS basis_day
    FROM
    (
        SELECT argMax(dims, valid_from) AS dim_list, argMax(tiers, valid_from) AS tier_list, max(valid_from) AS tiers_from
        FROM
        (
            SELECT valid_from, dims, tiers
            FROM {db:Identifier}.tier_history FINAL
            WHERE customer_id = {customer_id:String} AND valid_from <= {day:Date}
        )
    )
    ARRAY JOIN
        dim_list AS dimension,
        tier_list AS tier
    UNION ALL
    SELECT 'metric' AS kind, metric_name AS name, toString(metric_value) AS value, metrics_from AS valid_from, metrics_basis AS basis_day
    FROM
    (
        SELECT
            argMax(metric_names, (basis_day, valid_from)) AS name_list,
            argMax(metric_values, (basis_day, valid_from)) AS value_list,
            argMax(valid_from, (basis_day, valid_from)) AS metrics_from,
            max(basis_day) AS metrics_basis
        FROM
        (
            SELECT basis_day, valid_from, metric_names, metric_values
            FROM {db:Identifier}.metric_history FINAL
            WHERE customer_id = {customer_id:String} AND valid_from <= {day:Date}
        )
    )
    ARRAY JOIN
        name_list AS metric_name,
        value_list AS metric_value
)
ORDER BY kind DESC, name
