package sqlite

import (
	"context"
	"database/sql"
	"sort"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Each count walks the partial index of its state, so a snapshot costs
// in proportion to the jobs in each state, never a scan of every table.
const (
	sqlStatsPending   = `SELECT queue, count(*), min(run_at) FROM spool_jobs WHERE state = ` + pendingSQL + ` GROUP BY queue`
	sqlStatsScheduled = `SELECT queue, sum(run_at <= ?1), sum(run_at > ?1), min(CASE WHEN run_at <= ?1 THEN run_at END)
  FROM spool_jobs WHERE state = ` + scheduledSQL + ` GROUP BY queue`
	sqlStatsRunning  = `SELECT queue, count(*) FROM spool_jobs WHERE state = ` + runningSQL + ` GROUP BY queue`
	sqlStatsFinished = `SELECT queue, sum(state = ` + completedSQL + `), sum(state = ` + cancelledSQL + `) FROM spool_jobs WHERE state IN ` + finishedSQL + ` GROUP BY queue`
	sqlStatsDead     = `SELECT queue, count(*) FROM spool_dead GROUP BY queue`
	sqlStatsBlocked  = `SELECT queue, count(*), count(DISTINCT order_key) FROM spool_jobs
  WHERE order_key IS NOT NULL AND state = ` + blockedSQL + ` GROUP BY queue`
	sqlStatsStuck = `SELECT queue, count(DISTINCT order_key) FROM spool_dead
  WHERE order_key IS NOT NULL AND blocks_key GROUP BY queue`
	sqlStatsSettings = `SELECT name, paused, coalesce(max_pending, 0) FROM spool_queues WHERE paused OR max_pending > 0`
	sqlStatsMinutes  = `SELECT minute, sum(completed), sum(failed), sum(dead) FROM spool_metrics
  WHERE minute >= ? GROUP BY minute`
)

// Stats implements queue.Store. The counts come from one read transaction,
// so they are consistent with each other.
func (s *Store) Stats(ctx context.Context, now time.Time) (*queue.Stats, error) {
	tx, err := s.readDB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, mapErr(err)
	}
	defer tx.Rollback()
	byName := map[string]*queue.QueueStats{}
	get := func(name string) *queue.QueueStats {
		q := byName[name]
		if q == nil {
			q = &queue.QueueStats{Name: name}
			byName[name] = q
		}
		return q
	}
	nowUS := micros(now)
	oldest := func(q *queue.QueueStats, runAt sql.NullInt64) {
		if runAt.Valid {
			if age := now.Sub(time.UnixMicro(runAt.Int64)); age > q.OldestPending {
				q.OldestPending = age
			}
		}
	}
	each := func(query string, scan func(*sql.Rows) error, args ...any) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return mapErr(err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	var name string
	var n, m int
	var runAt sql.NullInt64
	steps := []struct {
		query string
		args  []any
		scan  func(*sql.Rows) error
	}{
		{sqlStatsPending, nil, func(r *sql.Rows) error {
			if err := r.Scan(&name, &n, &runAt); err != nil {
				return err
			}
			q := get(name)
			q.Pending += n
			oldest(q, runAt)
			return nil
		}},
		{sqlStatsScheduled, []any{nowUS}, func(r *sql.Rows) error {
			if err := r.Scan(&name, &n, &m, &runAt); err != nil {
				return err
			}
			q := get(name)
			q.Pending += n // due, not yet promoted: ready in all but name
			q.Scheduled += m
			oldest(q, runAt)
			return nil
		}},
		{sqlStatsRunning, nil, func(r *sql.Rows) error {
			if err := r.Scan(&name, &n); err != nil {
				return err
			}
			get(name).Running = n
			return nil
		}},
		{sqlStatsFinished, nil, func(r *sql.Rows) error {
			if err := r.Scan(&name, &n, &m); err != nil {
				return err
			}
			get(name).Completed, get(name).Cancelled = n, m
			return nil
		}},
		{sqlStatsDead, nil, func(r *sql.Rows) error {
			if err := r.Scan(&name, &n); err != nil {
				return err
			}
			get(name).Dead = n
			return nil
		}},
		{sqlStatsBlocked, nil, func(r *sql.Rows) error {
			if err := r.Scan(&name, &n, &m); err != nil {
				return err
			}
			get(name).Blocked, get(name).BlockedKeys = n, m
			return nil
		}},
		{sqlStatsStuck, nil, func(r *sql.Rows) error {
			if err := r.Scan(&name, &n); err != nil {
				return err
			}
			get(name).StuckKeys = n
			return nil
		}},
		{sqlStatsSettings, nil, func(r *sql.Rows) error {
			var paused bool
			if err := r.Scan(&name, &paused, &n); err != nil {
				return err
			}
			get(name).Paused, get(name).MaxPending = paused, n
			return nil
		}},
	}
	for _, st := range steps {
		if err := each(st.query, st.scan, st.args...); err != nil {
			return nil, err
		}
	}
	out := &queue.Stats{}
	for _, q := range byName {
		out.Queues = append(out.Queues, *q)
	}
	sort.Slice(out.Queues, func(i, j int) bool { return out.Queues[i].Name < out.Queues[j].Name })

	// One entry per minute of the last hour, zero-filled.
	start := now.Truncate(time.Minute).Add(-59 * time.Minute)
	minutes := make([]queue.MinuteStats, 60)
	for i := range minutes {
		minutes[i].Minute = start.Add(time.Duration(i) * time.Minute)
	}
	var minute int64
	var c, f, d int
	err = each(sqlStatsMinutes, func(r *sql.Rows) error {
		if err := r.Scan(&minute, &c, &f, &d); err != nil {
			return err
		}
		i := int((minute - start.Unix()) / 60)
		if i >= 0 && i < len(minutes) {
			minutes[i].Completed, minutes[i].Failed, minutes[i].Dead = c, f, d
		}
		return nil
	}, start.Unix())
	if err != nil {
		return nil, err
	}
	out.Throughput = minutes
	return out, nil
}

const (
	sqlPruneFinished = `DELETE FROM spool_jobs WHERE id IN
  (SELECT id FROM spool_jobs WHERE state = ? AND finished_at < ? ORDER BY finished_at LIMIT ?)`
	sqlPruneMetrics   = `DELETE FROM spool_metrics WHERE minute < ?`
	sqlPruneProcessed = `DELETE FROM spool_processed WHERE key IN
  (SELECT key FROM spool_processed WHERE processed_at < ? ORDER BY processed_at LIMIT ?)`
)

// Prune implements queue.Store.
func (s *Store) Prune(ctx context.Context, p queue.PruneParams) (int, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	var n int64
	err := s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		n = 0
		for _, c := range []struct {
			state  int
			before time.Time
		}{{stCompleted, p.CompletedBefore}, {stCancelled, p.CancelledBefore}} {
			if c.before.IsZero() {
				continue
			}
			r, err := x.exec(ctx, sqlPruneFinished, c.state, micros(c.before), limit)
			if err != nil {
				return err
			}
			k, _ := r.RowsAffected()
			n += k
		}
		if !p.ProcessedBefore.IsZero() {
			r, err := x.exec(ctx, sqlPruneProcessed, micros(p.ProcessedBefore), limit)
			if err != nil {
				return err
			}
			k, _ := r.RowsAffected()
			n += k
		}
		if !p.MetricsBefore.IsZero() {
			if _, err := x.exec(ctx, sqlPruneMetrics, p.MetricsBefore.Unix()); err != nil {
				return err
			}
		}
		return nil
	})
	return int(n), err
}
