-- History as change intervals (issue 13): instead of one tier_snapshots row per customer per day, the tier engine
-- writes a row when a customer's tier state changes (tier_history) and a row when its metrics change (metric_history).
-- Runs on ClickHouse 18.16 and current releases (no window functions there: the views sort per-customer arrays).
--
--   tiers of customer c on day D:   the tier_history row of c with the greatest valid_from <= D
--                                   (no such row: not a customer yet on day D)
--   metrics of customer c on day D: the metric_history row of c with the greatest (basis_day, valid_from)
--                                   among its rows with valid_from <= D
--
-- Both are ReplacingMergeTrees: read them with FINAL (or through the views), as every query in queries/ does.

-- One row per customer per day on which its tier state changed: the state at the close of valid_from (several changes
-- in one day collapse to the highest state_version). The row holds until the customer's next row.
CREATE TABLE IF NOT EXISTS {db}.tier_history
(
    customer_id String,
    valid_from Date,
    state_version UInt64,
    dims Array(String),
    tiers Array(String),
    metric_names Array(String),
    metric_values Array(Float64),
    rules_version String,
    cutpoints_version String,
    as_of UInt64,
    emitted_at UInt64
)
ENGINE = ReplacingMergeTree(state_version)
PARTITION BY toYYYYMM(valid_from)
ORDER BY (customer_id, valid_from)
SETTINGS index_granularity = 8192;

-- Points of each customer's metric path: an evaluation on basis_day writes the metrics as of basis_day and one row per
-- later day on which windows rolling off change them. Rows of a later basis_day supersede the path of an earlier one;
-- a re-emitted row (same customer, basis_day, valid_from) is replaced by the one with the highest as_of.
-- Partitioned by basis_day: the rows of one evaluation land in one partition.
CREATE TABLE IF NOT EXISTS {db}.metric_history
(
    customer_id String,
    basis_day Date,
    valid_from Date,
    metric_names Array(String),
    metric_values Array(Float64),
    as_of UInt64,
    emitted_at UInt64
)
ENGINE = ReplacingMergeTree(as_of)
PARTITION BY toYYYYMM(basis_day)
ORDER BY (customer_id, basis_day, valid_from)
SETTINGS index_granularity = 8192;

-- Backfill from the daily snapshots of databases created before this migration (nothing to do on a new database).
-- tier_history: a row on each customer's first snapshot day and on each snapshot day whose tiers (dims, tiers) differ
-- from the customer's previous snapshot. Re-running inserts identical rows, which the ReplacingMergeTree collapses.
INSERT INTO {db}.tier_history
    (customer_id, valid_from, state_version, dims, tiers, metric_names, metric_values, rules_version, cutpoints_version, as_of, emitted_at)
SELECT customer_id, snapshot_day, state_version, dims, tiers, metric_names, metric_values, rules_version, cutpoints_version, as_of, emitted_at
FROM {db}.tier_snapshots FINAL
WHERE (customer_id, snapshot_day) IN
(
    SELECT customer_id, tupleElement(point, 1) AS day
    FROM
    (
        SELECT
            customer_id,
            arraySort(groupArray((snapshot_day, h))) AS days
        FROM
        (
            SELECT
                customer_id,
                snapshot_day,
                cityHash64(arrayStringConcat(arrayMap((d, t) -> concat(d, '=', t), dims, tiers), '\n')) AS h
            FROM {db}.tier_snapshots FINAL
        )
        GROUP BY customer_id
    )
    -- each day against the previous one (a shifted copy of the hashes: a lambda that indexes another array would copy
    -- that array for every element)
    ARRAY JOIN arrayFilter(
        (x, previous, i) -> i = 1 OR tupleElement(x, 2) != previous,
        days,
        arrayPushFront(arrayPopBack(arrayMap(x -> tupleElement(x, 2), days)), toUInt64(0)),
        arrayEnumerate(days)) AS point
);

-- metric_history: a row (basis_day = valid_from = the snapshot day) on each customer's first snapshot day and on each
-- snapshot day whose metrics differ from the previous snapshot's, not counting the metrics that move every day
-- (recency_days, tenure_days, days_since_*, engagement_score: exact only on a row's own day, as in the live rows).
INSERT INTO {db}.metric_history
    (customer_id, basis_day, valid_from, metric_names, metric_values, as_of, emitted_at)
SELECT customer_id, snapshot_day, snapshot_day, metric_names, metric_values, as_of, emitted_at
FROM {db}.tier_snapshots FINAL
WHERE (customer_id, snapshot_day) IN
(
    SELECT customer_id, tupleElement(point, 1) AS day
    FROM
    (
        SELECT
            customer_id,
            arraySort(groupArray((snapshot_day, h))) AS days
        FROM
        (
            SELECT
                customer_id,
                snapshot_day,
                cityHash64(arrayStringConcat(arrayFilter(
                    (s, n) -> NOT (has(['recency_days', 'tenure_days', 'engagement_score'], n) OR startsWith(n, 'days_since_')),
                    arrayMap((n, v) -> concat(n, '=', toString(v)), metric_names, metric_values),
                    metric_names),
                    '\n')) AS h
            FROM {db}.tier_snapshots FINAL
        )
        GROUP BY customer_id
    )
    -- each day against the previous one (a shifted copy of the hashes: a lambda that indexes another array would copy
    -- that array for every element)
    ARRAY JOIN arrayFilter(
        (x, previous, i) -> i = 1 OR tupleElement(x, 2) != previous,
        days,
        arrayPushFront(arrayPopBack(arrayMap(x -> tupleElement(x, 2), days)), toUInt64(0)),
        arrayEnumerate(days)) AS point
);

-- One row per customer x dimension x period in one tier: valid_from is the first day in the tier, valid_to the last
-- (the day before the tier changed, or 2105-12-31 while it still holds). Consecutive history rows with the same tier in
-- the dimension are one period; days without a tier in the dimension (tier '') are not listed.
-- The tiers of day D: WHERE valid_from <= D AND valid_to >= D.
CREATE VIEW IF NOT EXISTS {db}.tier_intervals AS
SELECT
    customer_id,
    dimension,
    tier,
    valid_from,
    valid_to
FROM
(
    SELECT
        customer_id,
        dimension,
        -- a stay starts where the tier differs from the previous row's; it ends the day before the next stay starts
        arrayMap((t, previous, i) -> i = 1 OR t != previous, ts, arrayPushFront(arrayPopBack(ts), ''), arrayEnumerate(ts)) AS is_start,
        arrayFilter((t, s) -> s, ts, is_start) AS stay_tiers,
        arrayFilter((d, s) -> s, days, is_start) AS stay_starts,
        arrayPushBack(arrayMap(d -> d - 1, arrayPopFront(stay_starts)), toDate('2105-12-31')) AS stay_ends
    FROM
    (
        SELECT
            customer_id,
            dimension,
            arrayMap(x -> tupleElement(x, 1), h) AS days,
            -- (no subscript right after a tuple element: 18.16 stores `x.3[i]` in the view's metadata and cannot parse
            -- it back when the server restarts)
            arrayMap((ds, tr) -> tr[indexOf(ds, dimension)], arrayMap(x -> tupleElement(x, 2), h), arrayMap(x -> tupleElement(x, 3), h)) AS ts
        FROM
        (
            SELECT
                customer_id,
                arraySort(groupArray((valid_from, dims, tiers))) AS h,
                groupUniqArrayArray(dims) AS all_dims
            FROM
            (
                SELECT customer_id, valid_from, dims, tiers
                FROM {db}.tier_history FINAL
            )
            GROUP BY customer_id
        )
        ARRAY JOIN all_dims AS dimension
    )
)
ARRAY JOIN
    stay_tiers AS tier,
    stay_starts AS valid_from,
    stay_ends AS valid_to
WHERE tier != '';

-- The metric rows that are in effect, each with the days it is in effect: valid_from .. valid_to (the day before a row
-- of a later basis day or a later day of the same path takes over, or 2105-12-31). Rows that are superseded before
-- they start are left out. The metrics of day D: WHERE valid_from <= D AND valid_to >= D. (Per customer, the cost
-- grows with the square of its number of metric rows: for one customer or a few, prefer the customer_on_day query.)
CREATE VIEW IF NOT EXISTS {db}.metric_intervals AS
SELECT
    customer_id,
    tupleElement(r, 1) AS basis_day,
    tupleElement(r, 2) AS valid_from,
    valid_to,
    tupleElement(r, 3) AS metric_names,
    tupleElement(r, 4) AS metric_values
FROM
(
    SELECT
        customer_id,
        h,
        arrayMap(x -> tupleElement(x, 2), h) AS froms,
        -- row i holds until the day before the earliest valid_from among the rows after it in (basis_day, valid_from)
        arrayMap(
            k -> if(k = length(froms), toDate('2105-12-31'), arrayReduce('min', arraySlice(froms, k + 1)) - 1),
            arrayEnumerate(froms)) AS untils
    FROM
    (
        SELECT customer_id, arraySort(groupArray((basis_day, valid_from, metric_names, metric_values))) AS h
        FROM
        (
            SELECT customer_id, basis_day, valid_from, metric_names, metric_values
            FROM {db}.metric_history FINAL
        )
        GROUP BY customer_id
    )
)
ARRAY JOIN
    h AS r,
    untils AS valid_to
WHERE valid_to >= valid_from;

CREATE VIEW IF NOT EXISTS {db}.tier_history_dedup AS
SELECT *
FROM {db}.tier_history FINAL;

CREATE VIEW IF NOT EXISTS {db}.metric_history_dedup AS
SELECT *
FROM {db}.metric_history FINAL;
