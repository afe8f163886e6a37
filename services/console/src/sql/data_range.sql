-- @title Days with data
-- @description The first and the last day the warehouse has data for: tier history (valid_from), transitions
-- (occurred_day) and the current state (metrics_day); `rows` = 0 when it is empty. The console's date pickers default
-- to this range. min/max need no deduplication (a re-inserted row has the same day).
SELECT min(first_day) AS first_day, max(last_day) AS last_day, sum(n) AS rows
FROM
(
    SELECT min(valid_from) AS first_day, max(valid_from) AS last_day, count() AS n
    FROM {db:Identifier}.tier_history
    UNION ALL
    SELECT min(occurred_day) AS first_day, max(occurred_day) AS last_day, count() AS n
    FROM {db:Identifier}.tier_transitions
    UNION ALL
    SELECT min(metrics_day) AS first_day, max(metrics_day) AS last_day, count() AS n
    FROM {db:Identifier}.tier_current
)
WHERE n > 0
