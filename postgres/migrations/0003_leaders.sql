-- Leaders: one holder at a time per role (queue.Leader), such as the worker
-- pool that runs maintenance. A row whose expires_at has passed is free for
-- the next caller of Lead; Resign deletes the row.
CREATE TABLE spool.leaders (
  name       text   PRIMARY KEY,
  holder     text   NOT NULL,
  expires_at bigint NOT NULL
);
