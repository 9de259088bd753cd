-- Topics: the event log and the subscriptions that fan it out into jobs.

-- One row per topic: its sequence counter and retention.
CREATE TABLE spool_topics (
  name          TEXT    PRIMARY KEY,
  last_seq      INTEGER NOT NULL DEFAULT 0,
  retain_age_us INTEGER NOT NULL DEFAULT 0,
  retain_events INTEGER NOT NULL DEFAULT 0,
  updated_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- The append-only log. AUTOINCREMENT: ids only grow, so a subscription's
-- cursor (the last id delivered to it) orders every topic it reads.
CREATE TABLE spool_events (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  topic        TEXT    NOT NULL,
  seq          INTEGER NOT NULL,
  published_at INTEGER NOT NULL,
  order_key    TEXT,
  metadata     TEXT,
  payload      BLOB    NOT NULL
);
CREATE UNIQUE INDEX spool_events_topic ON spool_events (topic, seq);
CREATE INDEX spool_events_time ON spool_events (topic, published_at);

CREATE TABLE spool_subscriptions (
  name         TEXT    PRIMARY KEY,
  pattern      TEXT    NOT NULL,
  filter       TEXT,
  queue        TEXT    NOT NULL,
  kind         TEXT    NOT NULL,
  priority     INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 0,
  cursor       INTEGER NOT NULL,
  created_at   INTEGER NOT NULL
) WITHOUT ROWID;
