package sqlite

import (
	"context"

	"github.com/spooljobs/spool/internal/sqlstore"
)

// A job is tracked (spool_jobs.tracked, migration 0013) once it has rows
// that must go when it leaves both job tables: its output and progress
// (spool_job_output) or its dependencies as a child (spool_job_deps). The
// statements that delete jobs (a completion that does not keep its job,
// Delete, Prune) remove a tracked job's rows with dropTracked; a plain
// job, nearly every job a pool settles, needs no lookup at all. A job
// that moves to spool_dead keeps its rows (the spool_dead triggers remove
// them when it leaves that table), and one retried from there is tracked
// again if it has any (sqlRetryOneDead).

const (
	// sqlTrack marks job ?1 tracked.
	sqlTrack = `UPDATE spool_jobs SET tracked = 1 WHERE id = ?1 AND NOT tracked`
	// sqlDropOutput and sqlDropDeps remove the rows of the jobs ?1 (a JSON
	// array of ids) that left spool_jobs, unless they are in spool_dead.
	sqlDropOutput = `DELETE FROM spool_job_output WHERE job_id IN (SELECT value FROM json_each(?1))
  AND NOT EXISTS (SELECT 1 FROM spool_dead WHERE id = job_id)`
	sqlDropDeps = `DELETE FROM spool_job_deps WHERE child_id IN (SELECT value FROM json_each(?1))
  AND NOT EXISTS (SELECT 1 FROM spool_dead WHERE id = child_id)`
	// trackedSQL says whether the dead job being retried (a row of
	// spool_dead, named in full so that a column added to the other tables
	// cannot capture the name) has rows that make it tracked.
	trackedSQL = `(EXISTS (SELECT 1 FROM spool_job_output WHERE job_id = spool_dead.id) OR EXISTS (SELECT 1 FROM spool_job_deps WHERE child_id = spool_dead.id))`
)

// track marks job id tracked: the caller just gave it output or
// dependency rows.
func track(ctx context.Context, x *xtx, id int64) error {
	_, err := x.exec(ctx, sqlTrack, id)
	return err
}

// dropTracked removes the output and dependency rows of the tracked jobs
// ids, which the caller has just deleted from spool_jobs.
func dropTracked(ctx context.Context, x *xtx, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	list := sqlstore.IDList(ids)
	for _, q := range []string{sqlDropOutput, sqlDropDeps} {
		if _, err := x.exec(ctx, q, list); err != nil {
			return err
		}
	}
	return nil
}
