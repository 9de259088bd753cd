-- Concurrency limits across hosts (QueueSettings.MaxRunning): the queue's
-- limit, and an index to count its running jobs whose lease holds (a dead
-- host's jobs stop counting when their leases expire).
ALTER TABLE spool.queues ADD COLUMN max_running integer;
CREATE INDEX jobs_running_queue ON spool.jobs (queue, lease_until) WHERE state = 2;
-- Rate limits across hosts (QueueSettings.RateLimit per RatePeriod): the
-- limit, and its token bucket, spent by leases (tokens at rate_at, µs in
-- the database's clock frame).
ALTER TABLE spool.queues ADD COLUMN rate_limit integer;
ALTER TABLE spool.queues ADD COLUMN rate_period_us bigint;
ALTER TABLE spool.queues ADD COLUMN rate_tokens double precision;
ALTER TABLE spool.queues ADD COLUMN rate_at bigint;
