-- The event log's id counter. Event ids must be gap-free and in commit
-- order store-wide (a subscription is caught up when its cursor is the
-- newest event's id, and Publish advances caught-up cursors from id - 1 to
-- id), which a sequence is not: Publish takes the next id by updating this
-- one row, whose lock it holds until commit, and inserts the event with
-- that id. Pruning events never lowers it.
CREATE TABLE spool.event_log (
  id            integer PRIMARY KEY CHECK (id = 1),
  last_event_id bigint  NOT NULL
);
INSERT INTO spool.event_log (id, last_event_id)
  SELECT 1, coalesce(max(id), 0) FROM spool.events;
