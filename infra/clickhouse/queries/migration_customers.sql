-- @title Customers in one cell of the migration matrix
-- @description The customers who were in tier `from_tier` on day `from` and in tier `to_tier` on day `to` (one cell
-- of migration_matrix, same definitions: a customer's tier on a day is the one of its latest tier_history row on or
-- before that day; '(none)' = not a customer yet, or no tier in the dimension, on that day), by customer id, at most
-- `limit` of them. The console lists them when a cell of its movements heatmap is clicked.
-- @param dimension String value_tier -- tier dimension
-- @param from Date -- the earlier day
-- @param to Date -- the later day
-- @param from_tier String -- tier on day `from`, or (none)
-- @param to_tier String -- tier on day `to`, or (none)
-- @param limit UInt32 1000 -- at most this many customers
-- @example npm run tierctl -- sql migration_customers --param from=1998-01-31 --param to=1998-02-28 --param from_tier=GOLD --param to_tier=PLATINUM
SELECT customer_id, from_tier, to_tier
FROM
(
    SELECT
        customer_id,
        if(tier_from = '', '(none)', tier_from) AS from_tier,
        if(tier_to = '', '(none)', tier_to) AS to_tier
    FROM
    (
        SELECT
            customer_id,
            argMaxIf(tier, valid_from, valid_from <= {from:Date}) AS tier_from,
            argMaxIf(tier, valid_from, valid_from <= {to:Date}) AS tier_to
        FROM
        (
            SELECT customer_id, valid_from, tiers[indexOf(dims, {dimension:String})] AS tier
            FROM {db:Identifier}.tier_history FINAL
            WHERE valid_from <= greatest({from:Date}, {to:Date})
        )
        GROUP BY customer_id
    )
    WHERE NOT (tier_from = '' AND tier_to = '')
)
WHERE from_tier = {from_tier:String} AND to_tier = {to_tier:String}
ORDER BY customer_id
LIMIT {limit:UInt32}
