-- Unique periods (NewJob.UniqueFor): per key, the job that started the
-- period and when it ends (unix microseconds). A row outlives its job (a
-- completed job may be deleted at once); Prune removes rows whose period
-- ended.
CREATE TABLE spool_unique (
  key    TEXT    PRIMARY KEY,
  job_id INTEGER NOT NULL,
  until  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX spool_unique_until ON spool_unique (until);
-- Keys held by finished jobs, for NewJob.UniqueStates with completed or
-- cancelled, and by dead ones, with dead.
CREATE INDEX spool_jobs_unique_finished ON spool_jobs (unique_key, state) WHERE unique_key IS NOT NULL AND state IN (3, 4);
CREATE INDEX spool_dead_unique ON spool_dead (unique_key) WHERE unique_key IS NOT NULL;
-- Pruning of dead jobs past their retention (worker.Options.KeepDead).
CREATE INDEX spool_dead_died ON spool_dead (died_at);
