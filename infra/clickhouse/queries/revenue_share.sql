-- @title Revenue share per tier
-- @description Customers and revenue per tier on one day, with each tier's share of all customers and of all revenue.
-- Answers "does the top 20% hold ~80% of revenue?": compare customer_share with revenue_share of the top tier.
-- Tiers are those of the day (tier_history), the revenue metric its value on the day (metric_history: the row with the
-- greatest basis_day, then valid_from, among the customer's rows valid from the day or before). Shares are over
-- customers that have a tier in the dimension.
-- @param day Date -- the day
-- @param dimension String value_tier -- tier dimension
-- @param metric String revenue_365d -- revenue metric, e.g. revenue_365d or revenue_lifetime
-- @example npm run tierctl -- sql revenue_share --param day=1998-03-31
SELECT
    tier,
    customers,
    revenue,
    round(customers / total_customers, 4) AS customer_share,
    round(if(total_revenue = 0, 0, revenue / total_revenue), 4) AS revenue_share
FROM
(
    SELECT
        groupArray(tier) AS tier_list,
        groupArray(customers) AS customers_list,
        groupArray(revenue) AS revenue_list,
        arraySum(customers_list) AS total_customers,
        arraySum(revenue_list) AS total_revenue
    FROM
    (
        SELECT tier, count() AS customers, sum(revenue) AS revenue
        FROM
        (
            SELECT customer_id, tier
            FROM
            (
                SELECT customer_id, argMax(tier_of_row, valid_from) AS tier
                FROM
                (
                    SELECT customer_id, valid_from, tiers[indexOf(dims, {dimension:String})] AS tier_of_row
                    FROM {db:Identifier}.tier_history FINAL
                    WHERE valid_from <= {day:Date}
                )
                GROUP BY customer_id
            )
            WHERE tier != ''
        ) AS tiers_on_day
        ANY LEFT JOIN
        (
            SELECT customer_id, argMax(value, (basis_day, valid_from)) AS revenue
            FROM
            (
                SELECT customer_id, basis_day, valid_from, metric_values[indexOf(metric_names, {metric:String})] AS value
                FROM {db:Identifier}.metric_history FINAL
                WHERE valid_from <= {day:Date}
            )
            GROUP BY customer_id
        ) AS metrics_on_day USING customer_id
        GROUP BY tier
    )
)
ARRAY JOIN
    tier_list AS tier,
    customers_list AS customers,
    revenue_list AS revenue
ORDER BY revenue DESC, tier
