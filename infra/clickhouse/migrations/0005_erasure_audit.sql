-- Erasure log and audit trail (issue 19, items 4 and 5; docs/security.md "Erasure" and "Audit"). Runs on ClickHouse
-- 18.16 and current releases (no DateTime64: the UInt64 epoch-millisecond columns keep the milliseconds).

-- One row per executed erasure request (tierctl customer erase, or a record on erasure-requests.v1), written once the
-- request is done; a request id is executed once (a redelivery is skipped), and a re-insert of the same request
-- collapses (ReplacingMergeTree on request_id). No personal data: the customer appears only as customer_digest, an
-- HMAC-SHA256 of the id under ERASURE_DIGEST_KEY (hex; digest_kind 'hmac-sha256'), so that whoever holds the key can
-- answer "was customer X erased?" and nobody else can; without a key the digest is of a random one-time key
-- (digest_kind 'unlinkable'): the row then proves an erasure happened, not whose.
-- Per store: redis_keys (keys deleted), redis_members (the id removed from per-partition indexes: due, touch,
-- customers, population cache, parking due sets), the warehouse rows deleted per table (table_names[i] →
-- table_rows[i], counted before the DELETE), compacted_topics (tombstones written), and late_* (what the second sweep,
-- ERASURE_SETTLE_MS after the first, still found: state re-created by work in flight during the first).
CREATE TABLE IF NOT EXISTS {db}.erasure_log
(
    request_id String,
    executed_at UInt64,
    requested_at UInt64,
    customer_digest String,
    digest_kind String,
    reason String,
    requested_by String,
    executed_by String,
    source String,
    suppressed_until UInt64,
    redis_keys UInt64,
    redis_members UInt64,
    table_names Array(String),
    table_rows Array(UInt64),
    compacted_topics Array(String),
    late_redis UInt64,
    late_rows UInt64
)
ENGINE = ReplacingMergeTree(executed_at)
ORDER BY request_id
SETTINGS index_granularity = 8192;

-- Who did what when: rules applies and rollbacks (tierctl, the console), cut-point overrides (a rules change's cut
-- points, installed by the tier engine out of the daily schedule: rows from cutpoint_history by the view below) and
-- erasures. actor: the operator name (OPERATOR_NAME) or the OS user of the process; action: rules.apply,
-- rules.rollback, cutpoints.override, customer.erase; subject: what it acted on (a rules version, a cut-point
-- version, an erasure request id: never a customer id in clear); details: JSON. audit_id makes a re-insert collapse.
CREATE TABLE IF NOT EXISTS {db}.audit_log
(
    at UInt64,
    audit_id String,
    actor String,
    action String,
    subject String,
    source String,
    details String
)
ENGINE = ReplacingMergeTree(at)
ORDER BY (action, audit_id)
SETTINGS index_granularity = 8192;

-- A rules change's cut points (rules_seq set: computed when a rules version was applied, not at a day close) override
-- the scheduled ones: one audit row per version, when the writer stores it. The actor is the tier engine; the
-- rules.apply row with the same apply number (details.apply) says who applied the rules.
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.audit_cutpoints_override TO {db}.audit_log
AS SELECT
    max(emitted_at) AS at,
    concat('cutpoints:', version) AS audit_id,
    'tier-engine' AS actor,
    'cutpoints.override' AS action,
    version AS subject,
    'customer-tier-cutpoints.v1' AS source,
    concat('{"rules_version":"', any(rules_version), '","apply":', toString(assumeNotNull(any(rules_seq))),
           ',"scoring_keys":', toString(count()), '}') AS details
FROM {db}.cutpoint_history
WHERE rules_seq IS NOT NULL
GROUP BY version;
