-- @title Cut points in force on a day
-- @description The population cut points the tier engine compared with on `day` ("why GOLD on day D"): of the
-- versions in cutpoint_history with effective_from <= day, the one with the greatest (measured_day, rules_seq), as the
-- engine chooses; one row per share dimension or RFM component (cut_key). `groups` are the groups best first (tiers;
-- RFM scores 5..1) and `cuts` the boundaries between them: a value equal to a cut goes to the better group.
-- `cuts_on_day` are the cuts as they apply on the day (an anchored recency cut c is c + (day - anchor_day)). A tier
-- row's cutpoints_version names the version that decided it. Leave `dimension` empty for every dimension. With
-- `customer_id`, `customer_value` is that customer's metric on the day (metric_history; recency_days from
-- last_order_at) and `customer_group` the group it falls in (before eligibility and grace: an ineligible customer gets
-- the dimension's ineligible tier, and a demotion waits grace_days).
-- @param day Date -- the day
-- @param dimension String '' -- only this dimension; empty = all
-- @param customer_id String '' -- also place this customer's values; empty = none
-- @example npm run tierctl -- sql cutpoints_on_day --param day=1998-03-31 --param dimension=value_tier
-- @example npm run tierctl -- sql cutpoints_on_day --param day=1998-03-31 --param customer_id=00004
SELECT
    version,
    rules_version,
    effective_from,
    measured_day,
    population,
    dimension,
    cut_key,
    metric,
    better,
    groups,
    cuts,
    anchor_day,
    cuts_on_day,
    customer_value,
    if(isNull(customer_value), '',
        groups[if(k = 0, length(groups), k)]) AS customer_group,
    aggregate_config
FROM
(
    SELECT
        *,
        if(c_rows = 0, NULL,
            if(metric = 'recency_days' AND indexOf(c_names, 'last_order_at') > 0,
                toFloat64(toInt32({day:Date}) - toInt32(intDiv(toInt64(c_values[indexOf(c_names, 'last_order_at')]), 86400000))),
                if(indexOf(c_names, metric) = 0, NULL, c_values[indexOf(c_names, metric)]))) AS customer_value,
        arrayFirstIndex(c -> if(better = 'lower', ifNull(customer_value, 0) <= c, ifNull(customer_value, 0) >= c), cuts_on_day) AS k
    FROM
    (
        SELECT
            *,
            arrayMap(c -> if(isNull(anchor_day), c, c + (toInt32({day:Date}) - toInt32(ifNull(anchor_day, toDate('1970-01-01'))))), cuts) AS cuts_on_day
        FROM {db:Identifier}.cutpoint_history FINAL
        WHERE (version, rules_version) IN
        (
            SELECT
                tupleElement(latest, 1),
                tupleElement(latest, 2)
            FROM
            (
                SELECT argMax((version, rules_version), (ifNull(measured_day, toDate('1970-01-01')), ifNull(rules_seq, toInt64(-1)), emitted_at)) AS latest
                FROM {db:Identifier}.cutpoint_history FINAL
                WHERE effective_from <= {day:Date}
            )
        )
    ) AS cut_rows
    CROSS JOIN
    (
        -- The customer's metric row in effect on the day (none when customer_id is empty).
        SELECT
            argMax(metric_names, (basis_day, valid_from)) AS c_names,
            argMax(metric_values, (basis_day, valid_from)) AS c_values,
            count() AS c_rows
        FROM {db:Identifier}.metric_history FINAL
        WHERE customer_id = {customer_id:String} AND valid_from <= {day:Date}
    ) AS customer_row
)
WHERE {dimension:String} = '' OR dimension = {dimension:String}
ORDER BY cut_key
