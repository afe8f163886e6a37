-- @title Tier distribution per day
-- @description Number of customers in each tier of one dimension, per day, from the tier history (tier_history): a
-- customer counts on day D in the tier of its latest history row on or before D. Customers without a tier in the
-- dimension are not counted; days and tiers without customers are not listed.
-- @param dimension String value_tier -- tier dimension, e.g. value_tier, rfm_segment, lifecycle, value_potential
-- @param from Date -- first day, inclusive
-- @param to Date -- last day, inclusive
-- @example npm run tierctl -- sql tier_distribution_daily --param dimension=lifecycle --param from=1998-03-01 --param to=1998-03-31
SELECT
    day,
    tier,
    toUInt64(if(n = 0, 0, running[n])) AS customers
FROM
(
    -- Per tier and day of [from, to]: the count is the running sum of the +1/-1 steps up to that day.
    SELECT
        tier,
        {from:Date} + k AS day,
        arrayCount(d -> d <= day, step_days) AS n,
        running
    FROM
    (
        SELECT
            tier,
            arrayMap(x -> tupleElement(x, 1), steps) AS step_days,
            arrayCumSum(arrayMap(x -> tupleElement(x, 2), steps)) AS running,
            range(toUInt32(greatest(toInt32({to:Date} - {from:Date}) + 1, 0))) AS offsets
        FROM
        (
            SELECT tier, arraySort(groupArray((step_day, step))) AS steps
            FROM
            (
                SELECT tupleElement(ev, 1) AS tier, tupleElement(ev, 2) AS step_day, sum(tupleElement(ev, 3)) AS step
                FROM
                (
                    -- Each stay in a tier, clipped to [from, to]: +1 on its first day, -1 on the day after its last.
                    SELECT arrayJoin(if(last_day < {to:Date},
                        [(tier, first_day, toInt64(1)), (tier, last_day + 1, toInt64(-1))],
                        [(tier, first_day, toInt64(1))])) AS ev
                    FROM
                    (
                        SELECT
                            tier,
                            greatest(row_from, {from:Date}) AS first_day,
                            least(row_to, {to:Date}) AS last_day
                        FROM
                        (
                            -- A row holds until the day before the customer's next row (or `to`).
                            SELECT
                                arrayMap(x -> tupleElement(x, 1), h) AS froms,
                                arrayMap(x -> tupleElement(x, 2), h) AS row_tiers,
                                arrayPushBack(arrayMap(d -> d - 1, arrayPopFront(froms)), {to:Date}) AS tos
                            FROM
                            (
                                SELECT customer_id, arraySort(groupArray((valid_from, tier))) AS h
                                FROM
                                (
                                    SELECT customer_id, valid_from, tiers[indexOf(dims, {dimension:String})] AS tier
                                    FROM {db:Identifier}.tier_history FINAL
                                    WHERE valid_from <= {to:Date}
                                )
                                GROUP BY customer_id
                            )
                        )
                        ARRAY JOIN
                            row_tiers AS tier,
                            froms AS row_from,
                            tos AS row_to
                    )
                    WHERE first_day <= last_day AND tier != ''
                )
                GROUP BY tier, step_day
            )
            GROUP BY tier
        )
    )
    ARRAY JOIN offsets AS k
)
WHERE customers > 0
ORDER BY day, tier
