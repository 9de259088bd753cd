-- Concurrency limits across processes (QueueSettings.MaxRunning): the
-- queue's limit, and an index to count its running jobs whose lease holds
-- (a dead process's jobs stop counting when their leases expire).
ALTER TABLE spool_queues ADD COLUMN max_running INTEGER;
-- Rate limits across processes (QueueSettings.RateLimit per RatePeriod):
-- the limit, and its token bucket, spent by leases (tokens at rate_at, µs).
ALTER TABLE spool_queues ADD COLUMN rate_limit INTEGER;
ALTER TABLE spool_queues ADD COLUMN rate_period_us INTEGER;
ALTER TABLE spool_queues ADD COLUMN rate_tokens REAL;
ALTER TABLE spool_queues ADD COLUMN rate_at INTEGER;
