package sqlite

import (
	"context"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Pruning. Finished jobs go in passes (sqlstore.PrunePasses): per state,
// one per retention rule, then the default cut-off for the jobs no rule
// matches. A pass walks its state's index oldest first and passes over
// the jobs of rules that come before it. Dead jobs that block their
// ordering key are not pruned: the key's later jobs wait for an operator
// to retry or delete them.
const (
	// ruleMatch: the job's queue and kind match the pass's (?2, ?3: ""
	// is any) and no rule in the JSON array ?4 of [queue, kind] pairs.
	ruleMatch = `?2 IN ('', queue) AND ?3 IN ('', kind)
    AND NOT EXISTS (SELECT 1 FROM json_each(?4) r WHERE r.value ->> 0 IN ('', queue) AND r.value ->> 1 IN ('', kind))`
	sqlPruneFinished = `DELETE FROM spool_jobs WHERE id IN
  (SELECT id FROM spool_jobs WHERE state IN ` + finishedSQL + ` AND state = ?5 AND finished_at < ?1 AND ` + ruleMatch + `
    ORDER BY finished_at LIMIT ?6)`
	sqlPruneDead = `DELETE FROM spool_dead WHERE id IN
  (SELECT id FROM spool_dead WHERE died_at < ?1 AND NOT blocks_key AND ` + ruleMatch + `
    ORDER BY died_at LIMIT ?5)`
	sqlPruneMetrics = `DELETE FROM spool_metrics_kinds WHERE minute < ?`
	sqlPruneUnique  = `DELETE FROM spool_unique WHERE key IN
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
	passes := sqlstore.PrunePasses(p)
	var n int64
	err := s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		n = 0
		for _, ps := range passes {
			query, args := sqlPruneDead, []any{micros(ps.Before), ps.Queue, ps.Kind, ps.Excluded, limit}
			if ps.State != queue.StateDead {
				query = sqlPruneFinished
				args = []any{micros(ps.Before), ps.Queue, ps.Kind, ps.Excluded, sqlstore.StateCode(ps.State), limit}
			}
			r, err := x.exec(ctx, query, args...)
			if err != nil {
				return err
			}
			k, _ := r.RowsAffected()
			n += k
		}
		for _, c := range []struct {
			query  string
			before time.Time
		}{{sqlPruneProcessed, p.ProcessedBefore}, {sqlPruneUnique, p.UniqueBefore}} {
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
