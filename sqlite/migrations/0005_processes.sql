-- Processes: one heartbeat row per worker pool (queue.ProcessStore), with
-- the queues it works as a JSON array. A row whose expires_at has passed
-- is stale: readers ignore it and maintenance deletes it.
CREATE TABLE spool_processes (
  id         TEXT    PRIMARY KEY,
  name       TEXT    NOT NULL,
  host       TEXT    NOT NULL,
  pid        INTEGER NOT NULL,
  version    TEXT    NOT NULL,
  started_at INTEGER NOT NULL,
  last_seen  INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  queues     TEXT    NOT NULL
) WITHOUT ROWID;
