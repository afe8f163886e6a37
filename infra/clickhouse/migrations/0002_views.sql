-- Deduplicated, long-format views for ad-hoc analysis (one row per customer x dimension).
-- They read with FINAL, so they are exact before background merges. For large date ranges prefer the queries in
-- infra/clickhouse/queries, which filter on the table keys before deduplicating.

CREATE VIEW IF NOT EXISTS {db}.tier_current_long AS
SELECT
    customer_id,
    dimension,
    tier,
    state_version,
    rules_version,
    cutpoints_version,
    as_of
FROM
(
    SELECT customer_id, dims, tiers, state_version, rules_version, cutpoints_version, as_of
    FROM {db}.tier_current FINAL
)
ARRAY JOIN
    dims AS dimension,
    tiers AS tier;

CREATE VIEW IF NOT EXISTS {db}.tier_snapshots_long AS
SELECT
    snapshot_day,
    customer_id,
    dimension,
    tier,
    state_version,
    rules_version,
    cutpoints_version
FROM
(
    SELECT snapshot_day, customer_id, dims, tiers, state_version, rules_version, cutpoints_version
    FROM {db}.tier_snapshots FINAL
)
ARRAY JOIN
    dims AS dimension,
    tiers AS tier;

CREATE VIEW IF NOT EXISTS {db}.tier_distribution_daily AS
SELECT
    snapshot_day,
    dimension,
    tier,
    count() AS customers
FROM {db}.tier_snapshots_long
GROUP BY snapshot_day, dimension, tier;

CREATE VIEW IF NOT EXISTS {db}.tier_transitions_dedup AS
SELECT *
FROM {db}.tier_transitions FINAL;
