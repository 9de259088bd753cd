package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Unique options beyond the live index (queue.NewJob.UniqueFor and
// UniqueStates). Enqueues hold the write lock, so a job's holder is read
// before its insert and nothing can take the key in between.

const (
	// sqlUniquePeriod finds the job whose UniqueFor period holds a key.
	sqlUniquePeriod = `SELECT job_id FROM spool_unique WHERE key = ? AND until > ?`
	// sqlUniqueFinished finds a completed (?2) or cancelled (?3)
	// job with a key, through spool_jobs_unique_finished.
	sqlUniqueFinished = `SELECT id FROM spool_jobs WHERE unique_key = ?1 AND state IN ` + finishedSQL + `
  AND ((state = ` + completedSQL + ` AND ?2) OR (state = ` + cancelledSQL + ` AND ?3)) LIMIT 1`
	// sqlUniqueDead finds a dead job with a key.
	sqlUniqueDead = `SELECT id FROM spool_dead WHERE unique_key = ? LIMIT 1`
	// sqlStartPeriod starts a key's period with the job just inserted.
	sqlStartPeriod = `INSERT INTO spool_unique (key, job_id, until) VALUES (?1, ?2, ?3)
  ON CONFLICT (key) DO UPDATE SET job_id = ?2, until = ?3`
)

// uniqueHolder returns the job that holds j's unique key by its options
// (0 for none): a live job first, then the job of a period running at
// now, then a job in one of j's finished UniqueStates.
func uniqueHolder(ctx context.Context, x *xtx, j queue.NewJob, now time.Time) (int64, error) {
	id, err := holderOf(x.queryRow(ctx, sqlUniqueHolder, j.UniqueKey))
	if id != 0 || err != nil || !sqlstore.UniqueOptions(j) {
		return id, err
	}
	if j.UniqueFor > 0 {
		if id, err := holderOf(x.queryRow(ctx, sqlUniquePeriod, j.UniqueKey, micros(now))); id != 0 || err != nil {
			return id, err
		}
	}
	completed, cancelled, dead := sqlstore.UniqueFinished(j)
	if completed || cancelled {
		if id, err := holderOf(x.queryRow(ctx, sqlUniqueFinished, j.UniqueKey, completed, cancelled)); id != 0 || err != nil {
			return id, err
		}
	}
	if dead {
		return holderOf(x.queryRow(ctx, sqlUniqueDead, j.UniqueKey))
	}
	return 0, nil
}

// holderOf scans a holder's id, 0 for no row.
func holderOf(r *sql.Row) (int64, error) {
	var id int64
	switch err := r.Scan(&id); err {
	case nil:
		return id, nil
	case sql.ErrNoRows:
		return 0, nil
	default:
		return 0, err
	}
}

// startPeriod records that job id, just inserted, holds j's key for
// j.UniqueFor from now.
func startPeriod(ctx context.Context, x *xtx, j queue.NewJob, id int64, now time.Time) error {
	if j.UniqueFor <= 0 {
		return nil
	}
	_, err := x.exec(ctx, sqlStartPeriod, j.UniqueKey, id, micros(now.Add(j.UniqueFor)))
	return err
}
