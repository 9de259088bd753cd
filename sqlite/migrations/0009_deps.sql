-- Job dependencies (queue.NewJob.DependsOn): one row per (child, parent).
-- outcome is NULL while the parent has not ended, then how it ended:
-- 3 completed, 4 cancelled, 6 dead, 7 deleted before it finished. A child
-- waits in state blocked (5) while any of its rows has a NULL outcome.
-- run_anyway is the child's OnParentFailure (1: run). output keeps a
-- completed parent's output for its children, also when the parent's row
-- was deleted.
CREATE TABLE spool_job_deps (
  child_id   INTEGER NOT NULL,
  parent_id  INTEGER NOT NULL,
  run_anyway INTEGER NOT NULL DEFAULT 0,
  outcome    INTEGER,
  output     BLOB,
  PRIMARY KEY (child_id, parent_id)
) WITHOUT ROWID;

-- A parent's children: resolved as the parent ends, listed on its page.
CREATE INDEX spool_job_deps_children ON spool_job_deps (parent_id, child_id);
-- Is any dependency unresolved? A settle asks before it resolves its jobs
-- as parents, so a store without waiting children pays one lookup.
CREATE INDEX spool_job_deps_open ON spool_job_deps (parent_id) WHERE outcome IS NULL;

-- Jobs waiting for their parents (blocked without an ordering key), for
-- the counts of Stats.
CREATE INDEX spool_jobs_awaiting ON spool_jobs (queue) WHERE state = 5 AND order_key IS NULL;

-- A child's rows go when the child leaves both tables (as its output does).
CREATE TRIGGER spool_jobs_deps_gone AFTER DELETE ON spool_jobs
  WHEN EXISTS (SELECT 1 FROM spool_job_deps WHERE child_id = old.id)
BEGIN
  DELETE FROM spool_job_deps WHERE child_id = old.id
    AND NOT EXISTS (SELECT 1 FROM spool_dead WHERE id = old.id);
END;

CREATE TRIGGER spool_dead_deps_gone AFTER DELETE ON spool_dead
  WHEN EXISTS (SELECT 1 FROM spool_job_deps WHERE child_id = old.id)
BEGIN
  DELETE FROM spool_job_deps WHERE child_id = old.id
    AND NOT EXISTS (SELECT 1 FROM spool_jobs WHERE id = old.id);
END;
