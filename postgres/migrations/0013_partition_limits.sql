-- Per-partition-key limits (NewJob.PartitionKey; QueueSettings.MaxRunningPerKey,
-- RateLimitPerKey per RatePeriodPerKey). A job's partition key, kept in the
-- dead table too; the queue's per-key settings; and an index to count a key's
-- running jobs whose lease holds, partial on keyed running jobs so that plain
-- jobs never enter it.
ALTER TABLE spool.jobs ADD COLUMN partition_key text;
ALTER TABLE spool.dead ADD COLUMN partition_key text;
CREATE INDEX jobs_running_key ON spool.jobs (queue, partition_key, lease_until)
  WHERE state = 2 AND partition_key IS NOT NULL;
ALTER TABLE spool.queues ADD COLUMN max_running_per_key integer;
ALTER TABLE spool.queues ADD COLUMN rate_limit_per_key integer;
ALTER TABLE spool.queues ADD COLUMN rate_period_per_key_us bigint;
-- One token bucket per (queue, key) under RateLimitPerKey, created by the
-- first lease of the key: tokens at rate_at (µs, the database's clock frame);
-- full_at is when it holds RateLimitPerKey tokens again, after which Prune
-- removes it.
CREATE TABLE spool.partition_rates (
  queue   text NOT NULL,
  key     text NOT NULL,
  tokens  double precision NOT NULL,
  rate_at bigint NOT NULL,
  full_at bigint NOT NULL,
  PRIMARY KEY (queue, key)
);
CREATE INDEX partition_rates_full ON spool.partition_rates (full_at);
