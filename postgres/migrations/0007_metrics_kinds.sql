-- Throughput per minute, queue, kind and store slot (as in
-- spool.metrics_slots, 0005: each store counts into its own row), with a
-- histogram of the settled attempts' waits (run start minus due time):
-- w0 … w15 count the waits in the buckets of queue.WaitBucketBounds (1ms
-- 5ms 10ms 50ms 100ms 250ms 500ms 1s 2.5s 5s 10s 30s 1m 5m 30m, then
-- above). Settle writes only this table from now on. The older tables stay
-- and are not copied: hosts still running an older build keep counting
-- into them until they restart, and readers sum them in as kind ''
-- (without waits); Prune empties them as their minutes age out.
CREATE TABLE spool.metrics_kinds (
  minute    bigint   NOT NULL,
  queue     text     NOT NULL,
  kind      text     NOT NULL,
  slot      smallint NOT NULL,
  completed integer  NOT NULL DEFAULT 0,
  failed    integer  NOT NULL DEFAULT 0,
  dead      integer  NOT NULL DEFAULT 0,
  w0        bigint   NOT NULL DEFAULT 0,
  w1        bigint   NOT NULL DEFAULT 0,
  w2        bigint   NOT NULL DEFAULT 0,
  w3        bigint   NOT NULL DEFAULT 0,
  w4        bigint   NOT NULL DEFAULT 0,
  w5        bigint   NOT NULL DEFAULT 0,
  w6        bigint   NOT NULL DEFAULT 0,
  w7        bigint   NOT NULL DEFAULT 0,
  w8        bigint   NOT NULL DEFAULT 0,
  w9        bigint   NOT NULL DEFAULT 0,
  w10       bigint   NOT NULL DEFAULT 0,
  w11       bigint   NOT NULL DEFAULT 0,
  w12       bigint   NOT NULL DEFAULT 0,
  w13       bigint   NOT NULL DEFAULT 0,
  w14       bigint   NOT NULL DEFAULT 0,
  w15       bigint   NOT NULL DEFAULT 0,
  PRIMARY KEY (minute, queue, kind, slot)
);
