-- Ordering keys without state in an index key. jobs_order (queue,
-- order_key, state, id) had a job's state in its key, so every state change
-- of a keyed job (each lease, settle and promotion) wrote the row's new
-- version into it too. Now a key's head (its one pending, scheduled or
-- running job) is found through spool.order_heads, a row per key that names
-- the head's id, and its next job through jobs_blocked, which holds blocked
-- jobs only. A row of order_heads whose job is no longer pending, scheduled
-- or running is stale and means "no head"; promotion rewrites or removes it
-- (postgres/orderkeys.go).
CREATE TABLE spool.order_heads (
  queue     text   NOT NULL,
  order_key text   NOT NULL,
  head_id   bigint NOT NULL,
  PRIMARY KEY (queue, order_key)
);
INSERT INTO spool.order_heads (queue, order_key, head_id)
  SELECT queue, order_key, min(id) FROM spool.jobs
  WHERE order_key IS NOT NULL AND state IN (0, 1, 2) GROUP BY queue, order_key;
CREATE INDEX jobs_blocked ON spool.jobs (queue, order_key, id) WHERE state = 5 AND order_key IS NOT NULL;
DROP INDEX spool.jobs_order;
