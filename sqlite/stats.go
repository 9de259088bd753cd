package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Stats implements queue.Store. The counts come from one read transaction,
// so they are consistent with each other. Each count walks the partial
// index of its state, so a snapshot costs in proportion to the jobs in
// each state, never a scan of every table.
func (s *Store) Stats(ctx context.Context, now time.Time) (*queue.Stats, error) {
	tx, err := s.readDB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, mapErr(err)
	}
	defer tx.Rollback()
	qs := queueStats{sqlstore.QueueStats{}}
	for _, part := range []func(context.Context, *sql.Tx, time.Time) error{
		qs.addPending, qs.addScheduled, qs.addRunning, qs.addFinished, qs.addDead, qs.addBlocked, qs.addAwaiting, qs.addStuck, qs.addSettings,
	} {
		if err := part(ctx, tx, now); err != nil {
			return nil, err
		}
	}
	out := &queue.Stats{Queues: qs.Sorted()}
	if out.Throughput, err = throughputStats(ctx, tx, now); err != nil {
		return nil, err
	}
	return out, nil
}

// queueStats gathers the per-queue counts of a snapshot; its methods add
// the parts.
type queueStats struct{ sqlstore.QueueStats }

// eachRowIn runs query in tx and calls fn for each row.
func eachRowIn(ctx context.Context, tx *sql.Tx, query string, fn func(*sql.Rows) error, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return mapErr(err)
	}
	return eachRow(rows, fn)
}

// oldest raises q's OldestPending to the age at now of a job that was due
// at runAt.
func oldest(q *queue.QueueStats, now time.Time, runAt sql.NullInt64) {
	if runAt.Valid {
		sqlstore.RaiseOldest(q, now, time.UnixMicro(runAt.Int64))
	}
}

const sqlStatsPending = `SELECT queue, count(*), min(run_at) FROM spool_jobs WHERE state = ` + pendingSQL + ` GROUP BY queue`

// addPending counts the pending jobs and finds the oldest.
func (qs queueStats) addPending(ctx context.Context, tx *sql.Tx, now time.Time) error {
	return eachRowIn(ctx, tx, sqlStatsPending, func(r *sql.Rows) error {
		var name string
		var n int
		var runAt sql.NullInt64
		if err := r.Scan(&name, &n, &runAt); err != nil {
			return err
		}
		q := qs.Get(name)
		q.Pending += n
		oldest(q, now, runAt)
		return nil
	})
}

const sqlStatsScheduled = `SELECT queue, sum(run_at <= ?1), sum(run_at > ?1), min(CASE WHEN run_at <= ?1 THEN run_at END)
  FROM spool_jobs WHERE state = ` + scheduledSQL + ` GROUP BY queue`

// addScheduled counts the scheduled jobs. One that is due counts as
// pending, and as such may be the oldest: it is ready in all but name
// until the next lease promotes it.
func (qs queueStats) addScheduled(ctx context.Context, tx *sql.Tx, now time.Time) error {
	return eachRowIn(ctx, tx, sqlStatsScheduled, func(r *sql.Rows) error {
		var name string
		var due, later int
		var runAt sql.NullInt64
		if err := r.Scan(&name, &due, &later, &runAt); err != nil {
			return err
		}
		q := qs.Get(name)
		q.Pending += due
		q.Scheduled += later
		oldest(q, now, runAt)
		return nil
	}, micros(now))
}

const sqlStatsRunning = `SELECT queue, count(*) FROM spool_jobs WHERE state = ` + runningSQL + ` GROUP BY queue`

// addRunning counts the running jobs.
func (qs queueStats) addRunning(ctx context.Context, tx *sql.Tx, _ time.Time) error {
	return eachRowIn(ctx, tx, sqlStatsRunning, func(r *sql.Rows) error {
		var name string
		var n int
		if err := r.Scan(&name, &n); err != nil {
			return err
		}
		qs.Get(name).Running = n
		return nil
	})
}

const sqlStatsFinished = `SELECT queue, sum(state = ` + completedSQL + `), sum(state = ` + cancelledSQL + `) FROM spool_jobs WHERE state IN ` + finishedSQL + ` GROUP BY queue`

// addFinished counts the completed and cancelled jobs not yet pruned.
func (qs queueStats) addFinished(ctx context.Context, tx *sql.Tx, _ time.Time) error {
	return eachRowIn(ctx, tx, sqlStatsFinished, func(r *sql.Rows) error {
		var name string
		var n, m int
		if err := r.Scan(&name, &n, &m); err != nil {
			return err
		}
		q := qs.Get(name)
		q.Completed, q.Cancelled = n, m
		return nil
	})
}

const sqlStatsDead = `SELECT queue, count(*) FROM spool_dead GROUP BY queue`

// addDead counts the dead jobs.
func (qs queueStats) addDead(ctx context.Context, tx *sql.Tx, _ time.Time) error {
	return eachRowIn(ctx, tx, sqlStatsDead, func(r *sql.Rows) error {
		var name string
		var n int
		if err := r.Scan(&name, &n); err != nil {
			return err
		}
		qs.Get(name).Dead = n
		return nil
	})
}

const sqlStatsBlocked = `SELECT queue, count(*), count(DISTINCT order_key) FROM spool_jobs
  WHERE order_key IS NOT NULL AND state = ` + blockedSQL + ` GROUP BY queue`

// addBlocked counts the jobs waiting behind the head of their ordering
// key, and their keys.
func (qs queueStats) addBlocked(ctx context.Context, tx *sql.Tx, _ time.Time) error {
	return eachRowIn(ctx, tx, sqlStatsBlocked, func(r *sql.Rows) error {
		var name string
		var n, m int
		if err := r.Scan(&name, &n, &m); err != nil {
			return err
		}
		q := qs.Get(name)
		q.Blocked, q.BlockedKeys = n, m
		return nil
	})
}

// sqlStatsAwaiting counts jobs waiting for their parents: the blocked
// jobs without an ordering key (deps.go), through their partial index.
const sqlStatsAwaiting = `SELECT queue, count(*) FROM spool_jobs
  WHERE state = ` + blockedSQL + ` AND order_key IS NULL GROUP BY queue`

// addAwaiting counts the jobs waiting for their parents.
func (qs queueStats) addAwaiting(ctx context.Context, tx *sql.Tx, _ time.Time) error {
	return eachRowIn(ctx, tx, sqlStatsAwaiting, func(r *sql.Rows) error {
		var name string
		var n int
		if err := r.Scan(&name, &n); err != nil {
			return err
		}
		qs.Get(name).AwaitingParents = n
		return nil
	})
}

const sqlStatsStuck = `SELECT queue, count(DISTINCT order_key) FROM spool_dead
  WHERE order_key IS NOT NULL AND blocks_key GROUP BY queue`

// addStuck counts the ordering keys a dead job holds.
func (qs queueStats) addStuck(ctx context.Context, tx *sql.Tx, _ time.Time) error {
	return eachRowIn(ctx, tx, sqlStatsStuck, func(r *sql.Rows) error {
		var name string
		var n int
		if err := r.Scan(&name, &n); err != nil {
			return err
		}
		qs.Get(name).StuckKeys = n
		return nil
	})
}

const sqlStatsSettings = `SELECT name, paused, coalesce(max_pending, 0), coalesce(max_running, 0),
  coalesce(rate_limit, 0), coalesce(rate_period_us, 0),
  coalesce(max_running_per_key, 0), coalesce(rate_limit_per_key, 0), coalesce(rate_period_per_key_us, 0) FROM spool_queues`

// addSettings lists every queue that has a settings row (paused, resumed,
// or given settings), with whether it is paused and its limits.
func (qs queueStats) addSettings(ctx context.Context, tx *sql.Tx, _ time.Time) error {
	return eachRowIn(ctx, tx, sqlStatsSettings, func(r *sql.Rows) error {
		var name string
		var paused bool
		var n, running, rate, keyRunning, keyRate int
		var period, keyPeriod int64
		if err := r.Scan(&name, &paused, &n, &running, &rate, &period, &keyRunning, &keyRate, &keyPeriod); err != nil {
			return err
		}
		q := qs.Get(name)
		q.Paused, q.MaxPending, q.MaxRunning = paused, n, running
		q.RateLimit, q.RatePeriod = rate, time.Duration(period)*time.Microsecond
		q.MaxRunningPerKey, q.RateLimitPerKey = keyRunning, keyRate
		q.RatePeriodPerKey = time.Duration(keyPeriod) * time.Microsecond
		return nil
	})
}

const sqlStatsMinutes = `SELECT minute, sum(completed), sum(failed), sum(dead) FROM spool_metrics_kinds
  WHERE minute >= ? GROUP BY minute`

// throughputStats returns one entry per minute of the hour before now,
// oldest first, zero-filled, from the counts Settle records
// (throughput.go).
func throughputStats(ctx context.Context, tx *sql.Tx, now time.Time) ([]queue.MinuteStats, error) {
	minutes := sqlstore.NewMinutes(now)
	err := eachRowIn(ctx, tx, sqlStatsMinutes, func(r *sql.Rows) error {
		var minute int64
		var c, f, d int
		if err := r.Scan(&minute, &c, &f, &d); err != nil {
			return err
		}
		minutes.Set(minute, c, f, d)
		return nil
	}, minutes.Since())
	if err != nil {
		return nil, err
	}
	return minutes.Stats(), nil
}
