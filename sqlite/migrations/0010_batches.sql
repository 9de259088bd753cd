-- Batches (queue.BatchSpec): a group of jobs with callbacks. Counters of
-- the members' ends are updated in the transactions that end them.
-- on_success, on_complete and on_death hold the callback jobs (JSON, NULL
-- for none); success_job, complete_job and death_job are NULL until the
-- callback's moment came, then the id of the job it enqueued (0: none).
-- closed_at is NULL while the batch takes members; finished_at is set when
-- every member ended (and the batch was closed). Times are unix
-- microseconds, UTC.
CREATE TABLE spool_batches (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  description  TEXT    NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  closed_at    INTEGER,
  total        INTEGER NOT NULL DEFAULT 0,
  succeeded    INTEGER NOT NULL DEFAULT 0,
  dead         INTEGER NOT NULL DEFAULT 0,
  cancelled    INTEGER NOT NULL DEFAULT 0,
  on_success   TEXT,
  on_complete  TEXT,
  on_death     TEXT,
  success_job  INTEGER,
  complete_job INTEGER,
  death_job    INTEGER,
  finished_at  INTEGER
);
-- Batches whose members all ended (finished_at: when the complete callback
-- fired), pruned with the completed jobs' cut-off.
CREATE INDEX spool_batches_finished ON spool_batches (finished_at) WHERE finished_at IS NOT NULL;

-- A batch's members; outcome is NULL until the member ended, then how
-- (3 completed, 4 cancelled, 6 dead, 7 deleted before it finished). A
-- member counts once, at its first end.
CREATE TABLE spool_batch_jobs (
  job_id   INTEGER PRIMARY KEY,
  batch_id INTEGER NOT NULL,
  outcome  INTEGER
);
CREATE INDEX spool_batch_jobs_batch ON spool_batch_jobs (batch_id);
-- Is any batch member still to end? A settle asks before it counts.
CREATE INDEX spool_batch_jobs_open ON spool_batch_jobs (job_id) WHERE outcome IS NULL;
