-- Throughput counters in slots: each store counts into its own row per
-- minute and queue (its slot, chosen at random when it opens), so that
-- hosts settling jobs of one queue do not all wait for one row's lock
-- until their commits. A table of its own rather than a new key on
-- spool.metrics: hosts still running an older build keep counting into
-- spool.metrics while others have migrated, and readers sum both.
CREATE TABLE spool.metrics_slots (
  minute    bigint   NOT NULL,
  queue     text     NOT NULL,
  slot      smallint NOT NULL,
  completed integer  NOT NULL DEFAULT 0,
  failed    integer  NOT NULL DEFAULT 0,
  dead      integer  NOT NULL DEFAULT 0,
  PRIMARY KEY (minute, queue, slot)
);
