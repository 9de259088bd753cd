-- Jobs' output and progress (queue.Job.Output, queue.Job.Progress), in a
-- table of their own so that the job rows workers lease and settle stay
-- narrow (and their updates HOT): a row only for a job whose handler
-- recorded output or reported progress. output is JSON (NULL until
-- recorded), progress a fraction from 0 to 1 (NULL until reported),
-- progress_at microseconds in the database's clock frame.
CREATE TABLE spool.job_output (
  job_id           bigint PRIMARY KEY,
  output           bytea,
  progress         double precision,
  progress_message text   NOT NULL DEFAULT '',
  progress_at      bigint
);

-- A job's row goes when the job leaves both tables: deleted, pruned, or
-- completed without being kept. A job moving to spool.dead or back
-- (retried) keeps it: the statement that moves it inserts the other row
-- before these statement-level triggers run. One trigger call per
-- statement, whatever the number of rows.
CREATE FUNCTION spool.jobs_output_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM spool.job_output o USING gone g
    WHERE o.job_id = g.id AND NOT EXISTS (SELECT 1 FROM spool.dead d WHERE d.id = g.id);
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_output_gone AFTER DELETE ON spool.jobs
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION spool.jobs_output_gone();

CREATE FUNCTION spool.dead_output_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM spool.job_output o USING gone g
    WHERE o.job_id = g.id AND NOT EXISTS (SELECT 1 FROM spool.jobs j WHERE j.id = g.id);
  RETURN NULL;
END $$;
CREATE TRIGGER dead_output_gone AFTER DELETE ON spool.dead
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION spool.dead_output_gone();
