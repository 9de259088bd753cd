-- Periodic schedules (package schedule), shared by every scheduler on the
-- file. The definition is the one a scheduler last registered, so that any
-- process (the CLI, the admin page) can list next run times. last_tick is
-- the cursor: every tick up to it was enqueued or skipped; a scheduler moves
-- it with a compare-and-set in the transaction that enqueues the tick's job,
-- so a tick fires once even after its job finished. Times are unix
-- microseconds, UTC.
CREATE TABLE spool_schedules (
  name        TEXT    PRIMARY KEY,
  spec        TEXT    NOT NULL,
  time_zone   TEXT    NOT NULL,
  kind        TEXT    NOT NULL,
  queue       TEXT    NOT NULL,
  misfire     TEXT    NOT NULL,
  last_tick   INTEGER NOT NULL,
  last_run    INTEGER,
  paused      INTEGER NOT NULL DEFAULT 0,
  trigger_at  INTEGER,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
