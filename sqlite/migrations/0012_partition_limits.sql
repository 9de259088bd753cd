-- Per-partition-key limits (NewJob.PartitionKey; QueueSettings.MaxRunningPerKey,
-- RateLimitPerKey per RatePeriodPerKey). A job's partition key, kept in the
-- dead table too; the queue's per-key settings; and an index to count a key's
-- running jobs whose lease holds. The index is partial on keyed running jobs:
-- plain jobs never enter it.
ALTER TABLE spool_jobs ADD COLUMN partition_key TEXT;
ALTER TABLE spool_dead ADD COLUMN partition_key TEXT;
CREATE INDEX spool_jobs_running_key ON spool_jobs (queue, partition_key, lease_until)
  WHERE state = 2 AND partition_key IS NOT NULL;
ALTER TABLE spool_queues ADD COLUMN max_running_per_key INTEGER;
ALTER TABLE spool_queues ADD COLUMN rate_limit_per_key INTEGER;
ALTER TABLE spool_queues ADD COLUMN rate_period_per_key_us INTEGER;
-- One token bucket per (queue, key) under RateLimitPerKey, created by the
-- first lease of the key: tokens at rate_at (µs); full_at is when it holds
-- RateLimitPerKey tokens again, after which Prune removes it.
CREATE TABLE spool_partition_rates (
  queue   TEXT NOT NULL,
  key     TEXT NOT NULL,
  tokens  REAL NOT NULL,
  rate_at INTEGER NOT NULL,
  full_at INTEGER NOT NULL,
  PRIMARY KEY (queue, key)
);
CREATE INDEX spool_partition_rates_full ON spool_partition_rates (full_at);
