-- Job dependencies (queue.NewJob.DependsOn): one row per (child, parent),
-- as in the SQLite store. outcome is NULL while the parent has not ended,
-- then how it ended: 3 completed, 4 cancelled, 6 dead, 7 deleted before it
-- finished. A child waits in state blocked (5) while any of its rows has a
-- NULL outcome. run_anyway is the child's OnParentFailure (true: run).
-- output keeps a completed parent's output for its children.
CREATE TABLE spool.job_deps (
  child_id   bigint   NOT NULL,
  parent_id  bigint   NOT NULL,
  run_anyway boolean  NOT NULL DEFAULT false,
  outcome    smallint,
  output     bytea,
  PRIMARY KEY (child_id, parent_id)
);
-- A parent's children: resolved as the parent ends, listed on its page.
CREATE INDEX job_deps_parent ON spool.job_deps (parent_id, child_id);

-- tracked marks a job whose end other rows wait for (children; batches),
-- set under the row's lock by the write that starts waiting for it: the
-- one-statement settle of plain completions leaves such a job to the
-- settle that resolves what waits for it.
ALTER TABLE spool.jobs ADD COLUMN tracked boolean NOT NULL DEFAULT false;

-- Jobs waiting for their parents (blocked without an ordering key).
CREATE INDEX jobs_awaiting ON spool.jobs (queue) WHERE state = 5 AND order_key IS NULL;

-- A child's rows go when the child leaves both tables (as its output does).
CREATE FUNCTION spool.jobs_deps_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM spool.job_deps d USING gone g
    WHERE d.child_id = g.id AND NOT EXISTS (SELECT 1 FROM spool.dead x WHERE x.id = g.id);
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_deps_gone AFTER DELETE ON spool.jobs
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION spool.jobs_deps_gone();

CREATE FUNCTION spool.dead_deps_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM spool.job_deps d USING gone g
    WHERE d.child_id = g.id AND NOT EXISTS (SELECT 1 FROM spool.jobs x WHERE x.id = g.id);
  RETURN NULL;
END $$;
CREATE TRIGGER dead_deps_gone AFTER DELETE ON spool.dead
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION spool.dead_deps_gone();
