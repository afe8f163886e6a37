-- @title Cut points in force on a day
-- @description The population cut points the tier engine compared with on `day` ("why GOLD on day D"): of the
-- versions in cutpoint_history with effective_from <= day, the one with the greatest (measured_day, rules_seq), as the
-- engine chooses; one row per share dimension or RFM component (cut_key). `groups` are the groups best first (tiers;
-- RFM scores 5..1) and `cuts` the boundaries between them: a value equal to a cut goes to the better group.
-- `cuts_on_day` are the cuts as they apply on the day (an anchored recency cut c is c + (day - anchor_day)). A tier
-- row's cutpoints_version names the version that decided it. Leave `dimension` empty for every dimension.
-- @param day Date -- the day
-- @param dimension String '' -- only this dimension; empty = all
-- @example npm run tierctl -- sql cutpoints_on_day --param day=1998-03-31 --param dimension=value_tier
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
    arrayMap(c -> if(isNull(anchor_day), c, c + (toInt32({day:Date}) - toInt32(ifNull(anchor_day, toDate('1970-01-01'))))), cuts) AS cuts_on_day,
    aggregate_config
FROM
(
    SELECT *
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
)
WHERE {dimension:String} = '' OR dimension = {dimension:String}
ORDER BY cut_key
