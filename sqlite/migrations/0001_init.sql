-- Jobs that are pending (0), scheduled (1), running (2), completed (3),
-- cancelled (4) or blocked (5: waiting for an earlier job of its ordering
-- key). Times are unix microseconds, UTC. AUTOINCREMENT: ids are
-- never reused, also not after the newest job was deleted or moved to dead.
CREATE TABLE spool_jobs (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  queue            TEXT    NOT NULL,
  kind             TEXT    NOT NULL,
  state            INTEGER NOT NULL CHECK (state BETWEEN 0 AND 5),
  priority         INTEGER NOT NULL DEFAULT 0,
  run_at           INTEGER NOT NULL,
  attempt          INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL,
  timeout_us       INTEGER NOT NULL DEFAULT 0,
  created_at       INTEGER NOT NULL,
  attempted_at     INTEGER,
  finished_at      INTEGER,
  lease_until      INTEGER,
  lease_token      INTEGER,
  leased_by        TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  unique_key       TEXT,
  order_key        TEXT,
  expires_at       INTEGER,
  metadata         TEXT,
  errors           TEXT,
  payload          BLOB    NOT NULL
);

-- The lease query walks this index in order: ready jobs only, so leasing
-- never skips over scheduled or running rows.
CREATE INDEX spool_jobs_ready ON spool_jobs (queue, priority DESC, run_at, id) WHERE state = 0;
-- Promotion of due scheduled jobs, and the next due time per queue.
CREATE INDEX spool_jobs_scheduled ON spool_jobs (queue, run_at) WHERE state = 1;
-- The rescuer's scan for expired leases.
CREATE INDEX spool_jobs_running ON spool_jobs (lease_until) WHERE state = 2;
-- Pruning of completed and cancelled jobs.
CREATE INDEX spool_jobs_finished ON spool_jobs (finished_at) WHERE state IN (3, 4);
-- Idempotency keys are unique among live jobs (blocked ones included).
CREATE UNIQUE INDEX spool_jobs_unique ON spool_jobs (unique_key) WHERE unique_key IS NOT NULL AND state IN (0, 1, 2, 5);
-- Jobs of one ordering key: is the key busy, which blocked job is next.
CREATE INDEX spool_jobs_order ON spool_jobs (queue, order_key, state, id) WHERE order_key IS NOT NULL;
-- Jobs that expire unless started in time.
CREATE INDEX spool_jobs_expiry ON spool_jobs (queue, expires_at) WHERE expires_at IS NOT NULL AND state IN (0, 1, 5);

-- Dead jobs keep the id they had, their whole error history and the reason.
CREATE TABLE spool_dead (
  id           INTEGER PRIMARY KEY,
  queue        TEXT    NOT NULL,
  kind         TEXT    NOT NULL,
  priority     INTEGER NOT NULL,
  attempt      INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  timeout_us   INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  run_at       INTEGER NOT NULL,
  attempted_at INTEGER,
  died_at      INTEGER NOT NULL,
  reason       TEXT    NOT NULL,
  unique_key   TEXT,
  order_key    TEXT,
  blocks_key   INTEGER NOT NULL DEFAULT 0,
  expires_at   INTEGER,
  metadata     TEXT,
  errors       TEXT,
  payload      BLOB    NOT NULL
);
CREATE INDEX spool_dead_queue ON spool_dead (queue, kind, id);
-- Dead jobs that hold their ordering key until an operator acts.
CREATE INDEX spool_dead_blocking ON spool_dead (queue, order_key) WHERE blocks_key;

-- Per-queue settings, seen by every process on the file: paused, the
-- back-pressure limit, and whether a dead job blocks its ordering key.
CREATE TABLE spool_queues (
  name           TEXT    PRIMARY KEY,
  paused         INTEGER NOT NULL DEFAULT 0,
  max_pending    INTEGER,
  dead_skips_key INTEGER NOT NULL DEFAULT 0,
  updated_at     INTEGER NOT NULL
) WITHOUT ROWID;

-- Keys of effects already applied, for consumer-side idempotency
-- (Queue.MarkProcessedTx), pruned after their retention.
CREATE TABLE spool_processed (
  key          TEXT    PRIMARY KEY,
  processed_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX spool_processed_at ON spool_processed (processed_at);

-- Settled attempts per minute and queue, for the throughput chart.
CREATE TABLE spool_metrics (
  minute    INTEGER NOT NULL,
  queue     TEXT    NOT NULL,
  completed INTEGER NOT NULL DEFAULT 0,
  failed    INTEGER NOT NULL DEFAULT 0,
  dead      INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (minute, queue)
) WITHOUT ROWID;
