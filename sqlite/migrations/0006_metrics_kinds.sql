-- Throughput per minute, queue and kind, with a histogram of the settled
-- attempts' waits (run start minus due time): w0 … w15 count the waits in
-- the buckets of queue.WaitBucketBounds (1ms 5ms 10ms 50ms 100ms 250ms
-- 500ms 1s 2.5s 5s 10s 30s 1m 5m 30m, then above). It replaces the table
-- per minute and queue: its rows move over with kind '' and an empty
-- histogram, so that Settle writes one table.
CREATE TABLE spool_metrics_kinds (
  minute    INTEGER NOT NULL,
  queue     TEXT    NOT NULL,
  kind      TEXT    NOT NULL,
  completed INTEGER NOT NULL DEFAULT 0,
  failed    INTEGER NOT NULL DEFAULT 0,
  dead      INTEGER NOT NULL DEFAULT 0,
  w0        INTEGER NOT NULL DEFAULT 0,
  w1        INTEGER NOT NULL DEFAULT 0,
  w2        INTEGER NOT NULL DEFAULT 0,
  w3        INTEGER NOT NULL DEFAULT 0,
  w4        INTEGER NOT NULL DEFAULT 0,
  w5        INTEGER NOT NULL DEFAULT 0,
  w6        INTEGER NOT NULL DEFAULT 0,
  w7        INTEGER NOT NULL DEFAULT 0,
  w8        INTEGER NOT NULL DEFAULT 0,
  w9        INTEGER NOT NULL DEFAULT 0,
  w10       INTEGER NOT NULL DEFAULT 0,
  w11       INTEGER NOT NULL DEFAULT 0,
  w12       INTEGER NOT NULL DEFAULT 0,
  w13       INTEGER NOT NULL DEFAULT 0,
  w14       INTEGER NOT NULL DEFAULT 0,
  w15       INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (minute, queue, kind)
) WITHOUT ROWID;
INSERT INTO spool_metrics_kinds (minute, queue, kind, completed, failed, dead)
  SELECT minute, queue, '', completed, failed, dead FROM spool_metrics;
DROP TABLE spool_metrics;
