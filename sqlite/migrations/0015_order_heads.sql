-- Ordering keys without state in an index key. spool_jobs_order
-- (queue, order_key, state, id) had a job's state in its key, so every
-- state change of a keyed job (each lease, settle and promotion) deleted
-- and reinserted the job's entry, on a leaf page of its own per key: the
-- most of the gap between an ordered and an unordered drain.
--
-- Now a key's head (its one pending, scheduled or running job) is found
-- through spool_order_heads, a row per key that names the head's id, and
-- its next job through spool_jobs_blocked, which holds blocked jobs only:
-- a lease (pending to running) and a completion (running to gone) touch
-- neither. A row of spool_order_heads whose job is no longer pending,
-- scheduled or running is stale, and means "no head"; promotion rewrites
-- or removes it (sqlite/orderkeys.go).
CREATE TABLE spool_order_heads (
  queue     TEXT    NOT NULL,
  order_key TEXT    NOT NULL,
  head_id   INTEGER NOT NULL,
  PRIMARY KEY (queue, order_key)
) WITHOUT ROWID;
INSERT INTO spool_order_heads (queue, order_key, head_id)
  SELECT queue, order_key, min(id) FROM spool_jobs
  WHERE order_key IS NOT NULL AND state IN (0, 1, 2) GROUP BY queue, order_key;
CREATE INDEX spool_jobs_blocked ON spool_jobs (queue, order_key, id) WHERE state = 5 AND order_key IS NOT NULL;
DROP INDEX spool_jobs_order;
