-- Explainable history (issue 21, item 6): the cut points of every version, the aggregate configuration (reporting
-- currency, fx rates) behind every row, the day the metrics of tier_current are as of, a long metric view and views
-- with readable times. Runs on ClickHouse 18.16 and current releases (no DateTime64: readable times are DateTime
-- in UTC, whole seconds; the UInt64 epoch-millisecond columns keep the milliseconds).
-- `ADD COLUMN IF NOT EXISTS` is not 18.16 syntax: the migrator checks system.columns and runs the ALTER without it
-- only when the column is missing (packages/warehouse/src/migrations.ts), so a re-run is harmless.

-- One row per cut-point version x scoring key (a share dimension, or an RFM component `<dimension>.r|f|m`): the cuts
-- the engine compares with while the version is in force. In force on day D: of the versions with effective_from <= D
-- (the day after measured_day; a rules change's may be measured_day itself; 1970-01-01 for `initial`, the rules'
-- fallback cuts and bands), the one with the greatest (measured_day, rules_seq) (NULL counting lowest), as in the
-- engine (packages/tiering rules-change.ts); the query cutpoints_on_day does this. `groups` names the
-- groups best first (tiers; RFM scores 5..1), one more than `cuts`; a value equal to a cut goes to the better group.
-- An anchored cut (anchor_day not NULL: recency_days) is c + (D - anchor_day) on day D.
-- Written by the warehouse writer from customer-tier-cutpoints.v1 (the tier engine emits each version it computes).
CREATE TABLE IF NOT EXISTS {db}.cutpoint_history
(
    version String,
    rules_version String,
    cut_key String,
    dimension String,
    metric String,
    better String,
    groups Array(String),
    cuts Array(Float64),
    anchor_day Nullable(Date),
    measured_day Nullable(Date),
    effective_from Date,
    rules_seq Nullable(Int64),
    population Nullable(UInt64),
    aggregate_config String,
    computed_at UInt64,
    emitted_at UInt64
)
ENGINE = ReplacingMergeTree(emitted_at)
ORDER BY (version, rules_version, cut_key)
SETTINGS index_granularity = 8192;

-- One row per aggregate configuration (the `aggregate_config` hash on every tier row): the reporting currency all
-- money metrics are in, the fx rates (minor units of the reporting currency per minor unit of fx_currencies[i]) and
-- the whole configuration as JSON (engagement weights, half-life). Written with each cut-point version.
CREATE TABLE IF NOT EXISTS {db}.aggregate_configs
(
    aggregate_config String,
    reporting_currency String,
    fx_currencies Array(String),
    fx_rates Array(Float64),
    config_json String,
    emitted_at UInt64
)
ENGINE = ReplacingMergeTree(emitted_at)
ORDER BY aggregate_config
SETTINGS index_granularity = 8192;

-- The UTC day the metrics of a tier_current row are as of: the day of the evaluation that wrote the row (the UTC day
-- of as_of). Rows written before this migration get it from as_of too.
ALTER TABLE {db}.tier_current ADD COLUMN IF NOT EXISTS metrics_day Date DEFAULT toDate('1970-01-01') + toInt32(intDiv(as_of, 86400000));

-- The aggregate configuration (hash, see aggregate_configs) each row's metrics were computed with; '' for rows
-- written before it.
ALTER TABLE {db}.tier_current ADD COLUMN IF NOT EXISTS aggregate_config String DEFAULT '';
ALTER TABLE {db}.tier_history ADD COLUMN IF NOT EXISTS aggregate_config String DEFAULT '';
ALTER TABLE {db}.metric_history ADD COLUMN IF NOT EXISTS aggregate_config String DEFAULT '';
ALTER TABLE {db}.tier_snapshots ADD COLUMN IF NOT EXISTS aggregate_config String DEFAULT '';
ALTER TABLE {db}.tier_transitions ADD COLUMN IF NOT EXISTS aggregate_config String DEFAULT '';

-- Long metric history: one row per customer x metric path row x metric (valid_from = the day the value holds from).
CREATE VIEW IF NOT EXISTS {db}.metric_history_long AS
SELECT
    customer_id,
    basis_day,
    valid_from,
    metric,
    value,
    aggregate_config,
    as_of,
    toDateTime(intDiv(as_of, 1000), 'UTC') AS as_of_time
FROM
(
    SELECT customer_id, basis_day, valid_from, metric_names, metric_values, aggregate_config, as_of
    FROM {db}.metric_history FINAL
)
ARRAY JOIN
    metric_names AS metric,
    metric_values AS value;

-- Long metric intervals: one row per customer x metric x period in effect (valid_from .. valid_to, as in
-- metric_intervals). The value of metric m on day D: WHERE metric = 'm' AND valid_from <= D AND valid_to >= D.
CREATE VIEW IF NOT EXISTS {db}.metric_intervals_long AS
SELECT
    customer_id,
    basis_day,
    valid_from,
    valid_to,
    metric,
    value
FROM {db}.metric_intervals
ARRAY JOIN
    metric_names AS metric,
    metric_values AS value;

-- Readable times: the deduplicated tables with DateTime (UTC, whole seconds) beside each epoch-millisecond column.
CREATE VIEW IF NOT EXISTS {db}.tier_current_readable AS
SELECT
    *,
    toDateTime(intDiv(as_of, 1000), 'UTC') AS as_of_time,
    toDateTime(intDiv(emitted_at, 1000), 'UTC') AS emitted_time
FROM {db}.tier_current FINAL;

CREATE VIEW IF NOT EXISTS {db}.tier_history_readable AS
SELECT
    *,
    toDateTime(intDiv(as_of, 1000), 'UTC') AS as_of_time,
    toDateTime(intDiv(emitted_at, 1000), 'UTC') AS emitted_time
FROM {db}.tier_history FINAL;

CREATE VIEW IF NOT EXISTS {db}.tier_transitions_readable AS
SELECT
    *,
    toDateTime(intDiv(occurred_at, 1000), 'UTC') AS occurred_time,
    toDateTime(intDiv(evaluated_at, 1000), 'UTC') AS evaluated_time
FROM {db}.tier_transitions FINAL;

CREATE VIEW IF NOT EXISTS {db}.cutpoint_history_readable AS
SELECT
    *,
    toDateTime(intDiv(computed_at, 1000), 'UTC') AS computed_time,
    toDateTime(intDiv(emitted_at, 1000), 'UTC') AS emitted_time
FROM {db}.cutpoint_history FINAL;
