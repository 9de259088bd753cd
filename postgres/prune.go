package postgres

import (
	"context"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Prune removes, in bounded batches, what the retention policy no longer
// keeps. Rows another transaction holds are left for the next call.
// The finished jobs of one state: the state is written in, so that the
// planner matches the partial index jobs_finished.
const pruneFinished = `DELETE FROM spool.jobs WHERE id = ANY (ARRAY
  (SELECT id FROM spool.jobs WHERE state = %s AND finished_at < $1 ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED))`

var (
	sqlPruneCompleted = sprintf(pruneFinished, completedSQL)
	sqlPruneCancelled = sprintf(pruneFinished, cancelledSQL)
)

const (
	sqlPruneMetrics = `WITH old AS (DELETE FROM spool.metrics WHERE minute < $1)
  DELETE FROM spool.metrics_slots WHERE minute < $1`
	sqlPruneProcessed = `DELETE FROM spool.processed WHERE key = ANY (ARRAY
  (SELECT key FROM spool.processed WHERE processed_at < $1 ORDER BY processed_at LIMIT $2 FOR UPDATE SKIP LOCKED))`
	// sqlPruneDead leaves dead jobs that block their ordering key: the
	// key's later jobs wait for an operator to retry or delete them.
	sqlPruneDead = `DELETE FROM spool.dead WHERE id = ANY (ARRAY
  (SELECT id FROM spool.dead WHERE died_at < $1 AND NOT blocks_key ORDER BY died_at LIMIT $2 FOR UPDATE SKIP LOCKED))`
	sqlPruneUnique = `DELETE FROM spool.unique_periods WHERE key = ANY (ARRAY
  (SELECT key FROM spool.unique_periods WHERE until < $1 ORDER BY until LIMIT $2 FOR UPDATE SKIP LOCKED))`
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
			query  string
			before time.Time
		}{{sqlPruneCompleted, p.CompletedBefore}, {sqlPruneCancelled, p.CancelledBefore}} {
			if c.before.IsZero() {
				continue
			}
			r, err := x.exec(ctx, c.query, x.f.us(c.before), limit)
			if err != nil {
				return err
			}
			k, _ := r.RowsAffected()
			n += k
		}
		for _, c := range []struct {
			query  string
			before time.Time
		}{{sqlPruneDead, p.DeadBefore}, {sqlPruneProcessed, p.ProcessedBefore}, {sqlPruneUnique, p.UniqueBefore}} {
			if c.before.IsZero() {
				continue
			}
			r, err := x.exec(ctx, c.query, x.f.us(c.before), limit)
			if err != nil {
				return err
			}
			k, _ := r.RowsAffected()
			n += k
		}
		if !p.MetricsBefore.IsZero() {
			if _, err := x.exec(ctx, sqlPruneMetrics, p.MetricsBefore.Unix()+x.f.minuteShift()); err != nil {
				return err
			}
		}
		return nil
	})
	return int(n), err
}
