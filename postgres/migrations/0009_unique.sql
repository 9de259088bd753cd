-- Unique periods (NewJob.UniqueFor): per key, the job that started the
-- period and when it ends (µs, in the database's clock frame). A row
-- outlives its job (a completed job may be deleted at once); Prune removes
-- rows whose period ended.
CREATE TABLE spool.unique_periods (
  key    text   PRIMARY KEY,
  job_id bigint NOT NULL,
  until  bigint NOT NULL
);
CREATE INDEX unique_periods_until ON spool.unique_periods (until);
-- Keys held by finished jobs, for NewJob.UniqueStates with completed or
-- cancelled, and by dead ones, with dead.
CREATE INDEX jobs_unique_finished ON spool.jobs (unique_key, state) WHERE unique_key IS NOT NULL AND state IN (3, 4);
CREATE INDEX dead_unique ON spool.dead (unique_key) WHERE unique_key IS NOT NULL;
-- Pruning of dead jobs past their retention (worker.Options.KeepDead).
CREATE INDEX dead_died ON spool.dead (died_at);
