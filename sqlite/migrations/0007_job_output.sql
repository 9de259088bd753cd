-- Jobs' output and progress (queue.Job.Output, queue.Job.Progress), in a
-- table of their own so that the job rows workers lease and settle stay
-- narrow: a row only for a job whose handler recorded output or reported
-- progress. output is JSON (NULL until recorded), progress a fraction from
-- 0 to 1 (NULL until reported), progress_at unix microseconds.
CREATE TABLE spool_job_output (
  job_id           INTEGER PRIMARY KEY,
  output           BLOB,
  progress         REAL,
  progress_message TEXT    NOT NULL DEFAULT '',
  progress_at      INTEGER
);

-- A job's row goes when the job leaves both tables: deleted, pruned, or
-- completed without being kept. A job moving to spool_dead (inserted there
-- first, then deleted here) or back (retried from the dead table) keeps
-- it. The WHEN clause costs a job without output one lookup.
CREATE TRIGGER spool_jobs_output_gone AFTER DELETE ON spool_jobs
  WHEN EXISTS (SELECT 1 FROM spool_job_output WHERE job_id = old.id)
BEGIN
  DELETE FROM spool_job_output WHERE job_id = old.id
    AND NOT EXISTS (SELECT 1 FROM spool_dead WHERE id = old.id);
END;

CREATE TRIGGER spool_dead_output_gone AFTER DELETE ON spool_dead
  WHEN EXISTS (SELECT 1 FROM spool_job_output WHERE job_id = old.id)
BEGIN
  DELETE FROM spool_job_output WHERE job_id = old.id
    AND NOT EXISTS (SELECT 1 FROM spool_jobs WHERE id = old.id);
END;
