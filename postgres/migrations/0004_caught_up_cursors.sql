-- Caught-up subscriptions keep no moving cursor: a subscription's cursor
-- is NULL while it is caught up (it receives each new event from Publish,
-- in the publishing transaction), and the id of the last event it has
-- seen while it is behind (DeliverBacklog walks the log for it). Publish
-- then reads the caught-up subscriptions and writes none of their rows,
-- where it used to move every caught-up cursor on to its event.
--
-- Every host must run a build that knows this version: an older build's
-- Publish would deliver nothing to a subscription whose cursor is NULL.
-- (Open refuses a schema newer than its build, so an older host fails to
-- start rather than miss events; stop older hosts before migrating.)
ALTER TABLE spool.subscriptions ALTER COLUMN cursor DROP NOT NULL;
UPDATE spool.subscriptions SET cursor = NULL
  WHERE cursor >= (SELECT last_event_id FROM spool.event_log WHERE id = 1);
