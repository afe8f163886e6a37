-- Identity (issue 20, docs/design-decisions.md §22): the identity events for analysts, and the other customer of a
-- merge on the identity transitions. Runs on ClickHouse 18.16 and current releases (String with '' for "none", no
-- Nullable in keys; `ADD COLUMN IF NOT EXISTS` is run by the migrator only when the column is missing).

-- MERGED_INTO (the survivor) and MERGED (the merged id) transitions of the identity dimension name the other
-- customer; '' on every other transition and on rows written before.
ALTER TABLE {db}.tier_transitions ADD COLUMN IF NOT EXISTS related_customer_id String DEFAULT '';

-- One row per identity event (identities.v1): ALIAS (anonymous_id is customer_id) or MERGE (merged_customer_id is
-- the same person as customer_id, who survives), as received (status RECEIVED), replaced by its dead letter when the
-- identity graph refused it (status REJECTED, reason SELF_MERGE, MERGE_CYCLE, ALREADY_MERGED, ALIAS_CONFLICT,
-- ERASED_ID, ...; from identities.v1.dlq): the greater status_rank wins under FINAL. Written by the warehouse writer.
CREATE TABLE IF NOT EXISTS {db}.identity_events
(
    event_id String,
    type String,
    customer_id String,
    anonymous_id String,
    merged_customer_id String,
    source String,
    occurred_at UInt64,
    occurred_day Date,
    status String,
    reason String,
    status_rank UInt8,
    written_at UInt64
)
ENGINE = ReplacingMergeTree(status_rank)
ORDER BY event_id
SETTINGS index_granularity = 8192;

-- The links in effect: identity events not refused. An id merged twice or an anonymous id aliased twice keeps the
-- first (the graph refuses the second); a duplicate (the same link again) is a row too.
CREATE VIEW IF NOT EXISTS {db}.identity_links AS
SELECT
    event_id,
    type,
    if(type = 'ALIAS', anonymous_id, merged_customer_id) AS id,
    customer_id AS linked_to,
    source,
    occurred_at,
    occurred_day
FROM {db}.identity_events FINAL
WHERE status != 'REJECTED';
