-- Throughput counters in slots: each store writes its own row per minute
-- and queue (its slot, chosen at random when it opens), so that hosts
-- settling jobs of one queue do not all wait for one row's lock until
-- their commits. Readers sum the slots.
ALTER TABLE spool.metrics ADD COLUMN slot smallint NOT NULL DEFAULT 0;
ALTER TABLE spool.metrics DROP CONSTRAINT metrics_pkey;
ALTER TABLE spool.metrics ADD PRIMARY KEY (minute, queue, slot);
