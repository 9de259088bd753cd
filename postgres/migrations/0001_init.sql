-- spool on PostgreSQL: the same tables as the SQLite store, in one schema
-- (spool by default; Options.Schema). Times are microseconds since the Unix
-- epoch (bigint), as the callers' clocks give them. Job states: 0 pending,
-- 1 scheduled, 2 running, 3 completed, 4 cancelled, 5 blocked; dead jobs
-- live in spool.dead.

CREATE TABLE spool.meta (
  id         integer PRIMARY KEY CHECK (id = 1),
  store_id   text    NOT NULL
);

CREATE TABLE spool.jobs (
  id               bigserial PRIMARY KEY,
  queue            text     NOT NULL,
  kind             text     NOT NULL,
  state            smallint NOT NULL CHECK (state BETWEEN 0 AND 5),
  priority         integer  NOT NULL DEFAULT 0,
  run_at           bigint   NOT NULL,
  attempt          integer  NOT NULL DEFAULT 0,
  max_attempts     integer  NOT NULL,
  timeout_us       bigint   NOT NULL DEFAULT 0,
  created_at       bigint   NOT NULL,
  attempted_at     bigint,
  finished_at      bigint,
  lease_until      bigint,
  lease_token      bigint,
  leased_by        text,
  cancel_requested boolean  NOT NULL DEFAULT false,
  unique_key       text,
  order_key        text,
  expires_at       bigint,
  metadata         text,
  errors           text,
  payload          bytea    NOT NULL
);

CREATE INDEX jobs_ready ON spool.jobs (queue, priority DESC, run_at, id) WHERE state = 0;
CREATE INDEX jobs_scheduled ON spool.jobs (queue, run_at) WHERE state = 1;
CREATE INDEX jobs_running ON spool.jobs (lease_until) WHERE state = 2;
CREATE INDEX jobs_finished ON spool.jobs (finished_at) WHERE state IN (3, 4);
CREATE UNIQUE INDEX jobs_unique ON spool.jobs (unique_key) WHERE unique_key IS NOT NULL AND state IN (0, 1, 2, 5);
CREATE INDEX jobs_order ON spool.jobs (queue, order_key, state, id) WHERE order_key IS NOT NULL;
CREATE INDEX jobs_expiry ON spool.jobs (queue, expires_at) WHERE expires_at IS NOT NULL AND state IN (0, 1, 5);

CREATE TABLE spool.dead (
  id           bigint   PRIMARY KEY,
  queue        text     NOT NULL,
  kind         text     NOT NULL,
  priority     integer  NOT NULL,
  attempt      integer  NOT NULL,
  max_attempts integer  NOT NULL,
  timeout_us   bigint   NOT NULL,
  created_at   bigint   NOT NULL,
  run_at       bigint   NOT NULL,
  attempted_at bigint,
  died_at      bigint   NOT NULL,
  reason       text     NOT NULL,
  unique_key   text,
  order_key    text,
  blocks_key   boolean  NOT NULL DEFAULT false,
  expires_at   bigint,
  metadata     text,
  errors       text,
  payload      bytea    NOT NULL
);
CREATE INDEX dead_queue ON spool.dead (queue, kind, id);
CREATE INDEX dead_blocking ON spool.dead (queue, order_key) WHERE blocks_key;

CREATE TABLE spool.queues (
  name           text    PRIMARY KEY,
  paused         boolean NOT NULL DEFAULT false,
  max_pending    integer,
  dead_skips_key boolean NOT NULL DEFAULT false,
  updated_at     bigint  NOT NULL
);

CREATE TABLE spool.processed (
  key          text   PRIMARY KEY,
  processed_at bigint NOT NULL
);
CREATE INDEX processed_at ON spool.processed (processed_at);

CREATE TABLE spool.metrics (
  minute    bigint  NOT NULL,
  queue     text    NOT NULL,
  completed integer NOT NULL DEFAULT 0,
  failed    integer NOT NULL DEFAULT 0,
  dead      integer NOT NULL DEFAULT 0,
  PRIMARY KEY (minute, queue)
);

CREATE TABLE spool.schedules (
  name        text    PRIMARY KEY,
  spec        text    NOT NULL,
  time_zone   text    NOT NULL,
  kind        text    NOT NULL,
  queue       text    NOT NULL,
  misfire     text    NOT NULL,
  last_tick   bigint  NOT NULL,
  last_run    bigint,
  paused      boolean NOT NULL DEFAULT false,
  trigger_at  bigint,
  created_at  bigint  NOT NULL,
  updated_at  bigint  NOT NULL
);

-- Topics. A topic's row is its sequence: Publish takes the next seq with an
-- UPDATE of the row, which holds the row until commit, so a topic's
-- sequence numbers commit in order and without gaps.
CREATE TABLE spool.topics (
  name          text   PRIMARY KEY,
  last_seq      bigint NOT NULL DEFAULT 0,
  retain_age_us bigint NOT NULL DEFAULT 0,
  retain_events integer NOT NULL DEFAULT 0,
  updated_at    bigint NOT NULL
);

CREATE TABLE spool.events (
  id           bigserial PRIMARY KEY,
  topic        text   NOT NULL,
  seq          bigint NOT NULL,
  published_at bigint NOT NULL,
  order_key    text,
  metadata     text,
  payload      bytea  NOT NULL
);
CREATE UNIQUE INDEX events_topic ON spool.events (topic, seq);
CREATE INDEX events_time ON spool.events (topic, published_at);

CREATE TABLE spool.subscriptions (
  name         text    PRIMARY KEY,
  pattern      text    NOT NULL,
  filter       text,
  queue        text    NOT NULL,
  kind         text    NOT NULL,
  priority     integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 0,
  cursor       bigint  NOT NULL,
  created_at   bigint  NOT NULL
);
