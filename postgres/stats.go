package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Stats implements queue.Store. The counts come from one read-only
// snapshot (repeatable read), so they are consistent with each other.
// Each count walks the partial index of its state, so a snapshot costs in
// proportion to the jobs in each state, never a scan of every table.
func (s *Store) Stats(ctx context.Context, now time.Time) (*queue.Stats, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, ctxErr(ctx, mapErr(err))
	}
	defer tx.Rollback()
	r := statsReader{s: s, f: s.clock.frame(), tx: tx, qs: sqlstore.QueueStats{}}
	for _, part := range []func(context.Context, time.Time) error{
		r.addPending, r.addScheduled, r.addRunning, r.addFinished, r.addDead, r.addBlocked, r.addAwaiting, r.addStuck, r.addSettings,
	} {
		if err := part(ctx, now); err != nil {
			return nil, ctxErr(ctx, mapErr(err))
		}
	}
	out := &queue.Stats{Queues: r.qs.Sorted()}
	if out.Throughput, err = r.throughput(ctx, now); err != nil {
		return nil, ctxErr(ctx, mapErr(err))
	}
	return out, nil
}

// statsReader reads the parts of one snapshot in tx.
type statsReader struct {
	s  *Store
	f  frame
	tx *sql.Tx
	qs sqlstore.QueueStats
}

// each runs query in the snapshot and calls fn for each row.
func (r statsReader) each(ctx context.Context, query string, fn func(*sql.Rows) error, args ...any) error {
	rows, err := r.tx.QueryContext(ctx, r.s.sql(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// oldest raises q's OldestPending to the age at now of a job that was due
// at runAt (stored in frame f).
func oldest(q *queue.QueueStats, f frame, now time.Time, runAt sql.NullInt64) {
	if runAt.Valid {
		sqlstore.RaiseOldest(q, now, f.time(runAt.Int64))
	}
}

const sqlStatsPending = `SELECT queue, count(*), min(run_at) FROM spool.jobs WHERE state = ` + pendingSQL + ` GROUP BY queue`

// addPending counts the pending jobs and finds the oldest.
func (r statsReader) addPending(ctx context.Context, now time.Time) error {
	return r.each(ctx, sqlStatsPending, func(rows *sql.Rows) error {
		var name string
		var n int
		var runAt sql.NullInt64
		if err := rows.Scan(&name, &n, &runAt); err != nil {
			return err
		}
		q := r.qs.Get(name)
		q.Pending += n
		oldest(q, r.f, now, runAt)
		return nil
	})
}

const sqlStatsScheduled = `SELECT queue, count(*) FILTER (WHERE run_at <= $1), count(*) FILTER (WHERE run_at > $1),
  min(run_at) FILTER (WHERE run_at <= $1)
  FROM spool.jobs WHERE state = ` + scheduledSQL + ` GROUP BY queue`

// addScheduled counts the scheduled jobs. One that is due counts as
// pending, and as such may be the oldest: it is ready in all but name
// until the next lease promotes it.
func (r statsReader) addScheduled(ctx context.Context, now time.Time) error {
	return r.each(ctx, sqlStatsScheduled, func(rows *sql.Rows) error {
		var name string
		var due, later int
		var runAt sql.NullInt64
		if err := rows.Scan(&name, &due, &later, &runAt); err != nil {
			return err
		}
		q := r.qs.Get(name)
		q.Pending += due
		q.Scheduled += later
		oldest(q, r.f, now, runAt)
		return nil
	}, r.f.us(now))
}

const sqlStatsRunning = `SELECT queue, count(*) FROM spool.jobs WHERE state = ` + runningSQL + ` GROUP BY queue`

// addRunning counts the running jobs.
func (r statsReader) addRunning(ctx context.Context, _ time.Time) error {
	return r.each(ctx, sqlStatsRunning, func(rows *sql.Rows) error {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		r.qs.Get(name).Running = n
		return nil
	})
}

const sqlStatsFinished = `SELECT queue, count(*) FILTER (WHERE state = ` + completedSQL + `),
  count(*) FILTER (WHERE state = ` + cancelledSQL + `)
  FROM spool.jobs WHERE state IN ` + finishedSQL + ` GROUP BY queue`

// addFinished counts the completed and cancelled jobs not yet pruned.
func (r statsReader) addFinished(ctx context.Context, _ time.Time) error {
	return r.each(ctx, sqlStatsFinished, func(rows *sql.Rows) error {
		var name string
		var n, m int
		if err := rows.Scan(&name, &n, &m); err != nil {
			return err
		}
		q := r.qs.Get(name)
		q.Completed, q.Cancelled = n, m
		return nil
	})
}

const sqlStatsDead = `SELECT queue, count(*) FROM spool.dead GROUP BY queue`

// addDead counts the dead jobs.
func (r statsReader) addDead(ctx context.Context, _ time.Time) error {
	return r.each(ctx, sqlStatsDead, func(rows *sql.Rows) error {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		r.qs.Get(name).Dead = n
		return nil
	})
}

const sqlStatsBlocked = `SELECT queue, count(*), count(DISTINCT order_key) FROM spool.jobs
  WHERE order_key IS NOT NULL AND state = ` + blockedSQL + ` GROUP BY queue`

// addBlocked counts the jobs waiting behind the head of their ordering
// key, and their keys.
func (r statsReader) addBlocked(ctx context.Context, _ time.Time) error {
	return r.each(ctx, sqlStatsBlocked, func(rows *sql.Rows) error {
		var name string
		var n, m int
		if err := rows.Scan(&name, &n, &m); err != nil {
			return err
		}
		q := r.qs.Get(name)
		q.Blocked, q.BlockedKeys = n, m
		return nil
	})
}

// sqlStatsAwaiting counts jobs waiting for their parents: the blocked
// jobs without an ordering key (deps.go), through jobs_awaiting.
const sqlStatsAwaiting = `SELECT queue, count(*) FROM spool.jobs
  WHERE state = ` + blockedSQL + ` AND order_key IS NULL GROUP BY queue`

// addAwaiting counts the jobs waiting for their parents.
func (r statsReader) addAwaiting(ctx context.Context, _ time.Time) error {
	return r.each(ctx, sqlStatsAwaiting, func(rows *sql.Rows) error {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		r.qs.Get(name).AwaitingParents = n
		return nil
	})
}

const sqlStatsStuck = `SELECT queue, count(DISTINCT order_key) FROM spool.dead
  WHERE order_key IS NOT NULL AND blocks_key GROUP BY queue`

// addStuck counts the ordering keys a dead job holds.
func (r statsReader) addStuck(ctx context.Context, _ time.Time) error {
	return r.each(ctx, sqlStatsStuck, func(rows *sql.Rows) error {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		r.qs.Get(name).StuckKeys = n
		return nil
	})
}

const sqlStatsSettings = `SELECT name, paused, coalesce(max_pending, 0), coalesce(max_running, 0),
  coalesce(rate_limit, 0), coalesce(rate_period_us, 0),
  coalesce(max_running_per_key, 0), coalesce(rate_limit_per_key, 0), coalesce(rate_period_per_key_us, 0) FROM spool.queues`

// addSettings lists every queue that has a settings row (paused, resumed,
// or given settings), with whether it is paused and its limits.
func (r statsReader) addSettings(ctx context.Context, _ time.Time) error {
	return r.each(ctx, sqlStatsSettings, func(rows *sql.Rows) error {
		var name string
		var paused bool
		var n, running, rate, keyRunning, keyRate int
		var period, keyPeriod int64
		if err := rows.Scan(&name, &paused, &n, &running, &rate, &period, &keyRunning, &keyRate, &keyPeriod); err != nil {
			return err
		}
		q := r.qs.Get(name)
		q.Paused, q.MaxPending, q.MaxRunning = paused, n, running
		q.RateLimit, q.RatePeriod = rate, time.Duration(period)*time.Microsecond
		q.MaxRunningPerKey, q.RateLimitPerKey = keyRunning, keyRate
		q.RatePeriodPerKey = time.Duration(keyPeriod) * time.Microsecond
		return nil
	})
}

const sqlStatsMinutes = `SELECT minute, sum(completed), sum(failed), sum(dead) FROM (
    SELECT minute, completed, failed, dead FROM spool.metrics_kinds WHERE minute >= $1
    UNION ALL
    SELECT minute, completed, failed, dead FROM spool.metrics_slots WHERE minute >= $1
    UNION ALL
    SELECT minute, completed, failed, dead FROM spool.metrics WHERE minute >= $1) m
  GROUP BY minute`

// throughput returns one entry per minute of the hour before now, oldest
// first, zero-filled, from the counts Settle records (throughput.go).
func (r statsReader) throughput(ctx context.Context, now time.Time) ([]queue.MinuteStats, error) {
	minutes := sqlstore.NewMinutes(now)
	shift := r.f.minuteShift() // stored minutes are in the database's frame
	err := r.each(ctx, sqlStatsMinutes, func(rows *sql.Rows) error {
		var minute int64
		var c, f, d int
		if err := rows.Scan(&minute, &c, &f, &d); err != nil {
			return err
		}
		minutes.Set(minute-shift, c, f, d)
		return nil
	}, minutes.Since()+shift)
	if err != nil {
		return nil, err
	}
	return minutes.Stats(), nil
}
