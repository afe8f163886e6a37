-- @title Tier migration matrix
-- @description How many customers moved from each tier on day `from` to each tier on day `to` (from the tier history:
-- a customer's tier on a day is the one of its latest tier_history row on or before that day). '(none)' means the
-- customer was not a customer yet, or had no tier in the dimension, on that day.
-- @param dimension String value_tier -- tier dimension
-- @param from Date -- the earlier day
-- @param to Date -- the later day
-- @example npm run tierctl -- sql migration_matrix --param from=1998-01-31 --param to=1998-02-28
SELECT
    if(tier_from = '', '(none)', tier_from) AS from_tier,
    if(tier_to = '', '(none)', tier_to) AS to_tier,
    count() AS customers
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
GROUP BY from_tier, to_tier
ORDER BY from_tier, to_tier
