-- Base tables. Runs on ClickHouse 18.16 and current releases:
-- no Map / LowCardinality / DateTime64 / TTL; times are UInt64 epoch milliseconds (UTC), days are Date computed client-side in UTC.
-- Tier dimensions and metrics are data, stored as parallel arrays:
--   tiers of dimension d:   tiers[indexOf(dims, 'd')]                       ('' when the customer has no tier in d)
--   metric m:               metric_values[indexOf(metric_names, 'm')]       (0 when absent; check indexOf(...) > 0)
-- Every table is a ReplacingMergeTree: re-inserting the same rows never changes results as long as queries read with FINAL
-- (or dedupe with argMax / GROUP BY), which every view and every query in infra/clickhouse/queries does.

-- Latest full tier state per customer; the row with the highest state_version wins.
CREATE TABLE IF NOT EXISTS {db}.tier_current
(
    customer_id String,
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
ORDER BY customer_id
SETTINGS index_granularity = 8192;

-- One row per customer per day (the daily snapshot); a re-emitted snapshot for the same day replaces the old one
-- (highest state_version wins, equal versions are identical re-inserts).
CREATE TABLE IF NOT EXISTS {db}.tier_snapshots
(
    snapshot_day Date,
    customer_id String,
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
PARTITION BY toYYYYMM(snapshot_day)
ORDER BY (snapshot_day, customer_id)
SETTINGS index_granularity = 8192;

-- Every tier transition once per transition_id. transition_id is deterministic (same cause, same id, same occurred_at),
-- so occurred_day, which is part of the key for pruning by day, is the same for every copy of a transition.
CREATE TABLE IF NOT EXISTS {db}.tier_transitions
(
    occurred_day Date,
    transition_id String,
    customer_id String,
    dimension String,
    from_tier Nullable(String),
    to_tier String,
    direction String,
    reason String,
    rule_id String,
    rules_version String,
    cutpoints_version String,
    metric_names Array(String),
    metric_values Array(Float64),
    occurred_at UInt64,
    evaluated_at UInt64
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_day)
ORDER BY (occurred_day, transition_id)
SETTINGS index_granularity = 8192;
