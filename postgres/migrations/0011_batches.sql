-- Batches (queue.BatchSpec), as in the SQLite store: counters of the
-- members' ends, updated in the transactions that end them (under the
-- batch row's lock); on_* hold the callback jobs (JSON, NULL for none);
-- *_job are NULL until the callback's moment came, then the id of the job
-- it enqueued (0: none). Times are microseconds in the database's clock
-- frame.
CREATE TABLE spool.batches (
  id           bigserial PRIMARY KEY,
  description  text    NOT NULL DEFAULT '',
  created_at   bigint  NOT NULL,
  closed_at    bigint,
  total        integer NOT NULL DEFAULT 0,
  succeeded    integer NOT NULL DEFAULT 0,
  dead         integer NOT NULL DEFAULT 0,
  cancelled    integer NOT NULL DEFAULT 0,
  on_success   text,
  on_complete  text,
  on_death     text,
  success_job  bigint,
  complete_job bigint,
  death_job    bigint,
  finished_at  bigint
);
-- Batches whose members all ended (finished_at: when the complete callback
-- fired), pruned with the completed jobs' cut-off.
CREATE INDEX batches_finished ON spool.batches (finished_at) WHERE finished_at IS NOT NULL;

-- A batch's members; outcome is NULL until the member ended, then how
-- (3 completed, 4 cancelled, 6 dead, 7 deleted before it finished).
CREATE TABLE spool.batch_jobs (
  job_id   bigint PRIMARY KEY,
  batch_id bigint NOT NULL,
  outcome  smallint
);
CREATE INDEX batch_jobs_batch ON spool.batch_jobs (batch_id);
