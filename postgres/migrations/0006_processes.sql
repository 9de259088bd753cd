-- Processes: one heartbeat row per worker pool (queue.ProcessStore), with
-- the queues it works as a JSON array. A row whose expires_at has passed
-- is stale: readers ignore it and maintenance deletes it. Times are in
-- the database's clock frame, as every stored time.
CREATE TABLE spool.processes (
  id         text    PRIMARY KEY,
  name       text    NOT NULL,
  host       text    NOT NULL,
  pid        integer NOT NULL,
  version    text    NOT NULL,
  started_at bigint  NOT NULL,
  last_seen  bigint  NOT NULL,
  expires_at bigint  NOT NULL,
  queues     text    NOT NULL
);
