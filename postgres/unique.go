package postgres

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Unique options beyond the live index (queue.NewJob.UniqueFor and
// UniqueStates). Several hosts enqueue at once, so an enqueue of a job
// with such options first takes its key's advisory lock (lockUniqueKeys,
// all of a call's keys in order, so that two calls cannot deadlock), then
// reads the holder, inserts and starts the period: two such enqueues of
// one key run one after the other, and the second finds the first. An
// enqueue without options takes no lock; it still meets a live holder in
// the unique index, as before.

const (
	// sqlLockUnique hashes (schema, key) into one advisory lock, apart
	// from the ordering keys' (a collision only makes them wait).
	sqlLockUnique = `SELECT pg_advisory_xact_lock(hashtextextended('unique ' || $2, hashtextextended($1, 0)))`
	// sqlUniquePeriod finds the job whose UniqueFor period holds a key.
	sqlUniquePeriod = `SELECT job_id FROM spool.unique_periods WHERE key = $1 AND until > $2`
	// sqlUniqueFinished finds a completed ($2) or cancelled ($3)
	// job with a key, through jobs_unique_finished.
	sqlUniqueFinished = `SELECT id FROM spool.jobs WHERE unique_key = $1 AND state IN (` + completedSQL + `, ` + cancelledSQL + `)
  AND ((state = ` + completedSQL + ` AND $2) OR (state = ` + cancelledSQL + ` AND $3)) LIMIT 1`
	// sqlUniqueDead finds a dead job with a key.
	sqlUniqueDead = `SELECT id FROM spool.dead WHERE unique_key = $1 LIMIT 1`
	// sqlStartPeriod starts a key's period with the job just inserted.
	sqlStartPeriod = `INSERT INTO spool.unique_periods (key, job_id, until) VALUES ($1, $2, $3)
  ON CONFLICT (key) DO UPDATE SET job_id = EXCLUDED.job_id, until = EXCLUDED.until`
)

// lockUniqueKeys takes the advisory locks of the unique keys of jobs with
// unique options, in key order.
func lockUniqueKeys(ctx context.Context, x *xtx, jobs []queue.NewJob) error {
	var keys []string
	for _, j := range jobs {
		if sqlstore.UniqueOptions(j) {
			keys = append(keys, j.UniqueKey)
		}
	}
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		if _, err := x.exec(ctx, sqlLockUnique, x.s.schema, k); err != nil {
			return err
		}
	}
	return nil
}

// uniqueHolder returns the job that holds j's unique key by its options
// (0 for none): a live job first, then the job of a period running at
// now, then a job in one of j's finished UniqueStates. For a job with
// options the caller holds the key's lock.
func uniqueHolder(ctx context.Context, x *xtx, j queue.NewJob, now time.Time) (int64, error) {
	id, err := holderOf(x.queryRow(ctx, sqlUniqueHolder, j.UniqueKey))
	if id != 0 || err != nil || !sqlstore.UniqueOptions(j) {
		return id, err
	}
	if j.UniqueFor > 0 {
		if id, err := holderOf(x.queryRow(ctx, sqlUniquePeriod, j.UniqueKey, x.f.us(now))); id != 0 || err != nil {
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
	switch err := r.Scan(&id); {
	case err == nil:
		return id, nil
	case errors.Is(err, sql.ErrNoRows):
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
	_, err := x.exec(ctx, sqlStartPeriod, j.UniqueKey, id, x.f.us(now.Add(j.UniqueFor)))
	return err
}
