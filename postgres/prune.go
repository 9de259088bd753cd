package postgres

import (
	"context"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Prune removes, in bounded batches, what the retention policy no longer
// keeps. Rows another transaction holds are left for the next call.
// Finished jobs go in passes (sqlstore.PrunePasses): per state, one per
// retention rule, then the default cut-off for the jobs no rule matches.
// The state is written in, so that the planner matches the partial index
// jobs_finished.
//
// ruleMatch: the job's queue and kind match the pass's ($2, $3: "" is
// any) and no rule in the JSON array $4 of [queue, kind] pairs.
const ruleMatch = `$2 IN ('', queue) AND $3 IN ('', kind)
    AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements($4::jsonb) AS r(v) WHERE r.v->>0 IN ('', queue) AND r.v->>1 IN ('', kind))`

const pruneFinished = `DELETE FROM spool.jobs WHERE id = ANY (ARRAY
  (SELECT id FROM spool.jobs WHERE state = %s AND finished_at < $1 AND ` + ruleMatch + `
    ORDER BY finished_at LIMIT $5 FOR UPDATE SKIP LOCKED))`

var (
	sqlPruneCompleted = sprintf(pruneFinished, completedSQL)
	sqlPruneCancelled = sprintf(pruneFinished, cancelledSQL)
)

const (
	sqlPruneMetrics = `WITH old AS (DELETE FROM spool.metrics WHERE minute < $1),
    slots AS (DELETE FROM spool.metrics_slots WHERE minute < $1)
  DELETE FROM spool.metrics_kinds WHERE minute < $1`
	sqlPruneProcessed = `DELETE FROM spool.processed WHERE key = ANY (ARRAY
  (SELECT key FROM spool.processed WHERE processed_at < $1 ORDER BY processed_at LIMIT $2 FOR UPDATE SKIP LOCKED))`
	// sqlPruneDead leaves dead jobs that block their ordering key: the
	// key's later jobs wait for an operator to retry or delete them.
	sqlPruneDead = `DELETE FROM spool.dead WHERE id = ANY (ARRAY
  (SELECT id FROM spool.dead WHERE died_at < $1 AND NOT blocks_key AND ` + ruleMatch + `
    ORDER BY died_at LIMIT $5 FOR UPDATE SKIP LOCKED))`
	sqlPruneUnique = `DELETE FROM spool.unique_periods WHERE key = ANY (ARRAY
  (SELECT key FROM spool.unique_periods WHERE until < $1 ORDER BY until LIMIT $2 FOR UPDATE SKIP LOCKED))`
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
			query := sqlPruneDead
			switch ps.State {
			case queue.StateCompleted:
				query = sqlPruneCompleted
			case queue.StateCancelled:
				query = sqlPruneCancelled
			}
			r, err := x.exec(ctx, query, x.f.us(ps.Before), ps.Queue, ps.Kind, ps.Excluded, limit)
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
