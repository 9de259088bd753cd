package sqlite

import (
	"context"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Dead jobs that block their ordering key are not pruned: the key's later
// jobs wait for an operator to retry or delete them.
const (
	sqlPruneFinished = `DELETE FROM spool_jobs WHERE id IN
  (SELECT id FROM spool_jobs WHERE state = ? AND finished_at < ? ORDER BY finished_at LIMIT ?)`
	sqlPruneMetrics = `DELETE FROM spool_metrics WHERE minute < ?`
	sqlPruneDead    = `DELETE FROM spool_dead WHERE id IN
  (SELECT id FROM spool_dead WHERE died_at < ? AND NOT blocks_key ORDER BY died_at LIMIT ?)`
	sqlPruneUnique = `DELETE FROM spool_unique WHERE key IN
  (SELECT key FROM spool_unique WHERE until < ? ORDER BY until LIMIT ?)`
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
		for _, c := range []struct {
			query  string
			before time.Time
		}{{sqlPruneDead, p.DeadBefore}, {sqlPruneProcessed, p.ProcessedBefore}, {sqlPruneUnique, p.UniqueBefore}} {
			if c.before.IsZero() {
				continue
			}
			r, err := x.exec(ctx, c.query, micros(c.before), limit)
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
