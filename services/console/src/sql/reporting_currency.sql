-- @title Reporting currency
-- @description The reporting currency of the latest aggregate configuration the warehouse knows (every money metric is
-- in its minor units); no row before the tier engine published one.
SELECT reporting_currency
FROM {db:Identifier}.aggregate_configs FINAL
ORDER BY emitted_at DESC
LIMIT 1
