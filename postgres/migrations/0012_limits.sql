-- Concurrency limits across hosts (QueueSettings.MaxRunning): the queue's
-- limit, and an index to count its running jobs whose lease holds (a dead
-- host's jobs stop counting when their leases expire).
ALTER TABLE spool.queues ADD COLUMN max_running integer;
CREATE INDEX jobs_running_queue ON spool.jobs (queue, lease_until) WHERE state = 2;
