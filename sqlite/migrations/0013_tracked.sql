-- tracked marks a job that has rows elsewhere that must go when the job
-- leaves both job tables: its output (spool_job_output) or its
-- dependencies as a child (spool_job_deps). It replaces the row triggers
-- spool_jobs_output_gone and spool_jobs_deps_gone, which SQLite ran for
-- every deleted job (their WHEN looked the job up in both tables: about a
-- sixth of a plain completion's cost). The code that deletes jobs now
-- removes a tracked job's rows itself (sqlite/tracked.go); a plain job
-- needs nothing. A job that moves to spool_dead keeps its rows, and the
-- spool_dead triggers, which fire rarely, stay.
ALTER TABLE spool_jobs ADD COLUMN tracked INTEGER NOT NULL DEFAULT 0;
UPDATE spool_jobs SET tracked = 1
  WHERE id IN (SELECT job_id FROM spool_job_output) OR id IN (SELECT child_id FROM spool_job_deps);
DROP TRIGGER spool_jobs_output_gone;
DROP TRIGGER spool_jobs_deps_gone;
