-- @title Dimensions in the current state
-- @description The tier dimensions of the current state (tier_current), used when no rules version is active.
SELECT dimension
FROM
(
    SELECT groupUniqArrayArray(dims) AS all_dims
    FROM {db:Identifier}.tier_current FINAL
)
ARRAY JOIN all_dims AS dimension
ORDER BY dimension
