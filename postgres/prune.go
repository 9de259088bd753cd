package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Prune removes, in bounded batches, what the retention policy no longer
// keeps. Rows another transaction holds are left for the next call.
// Finished jobs go in one delete per state (sqlstore.PruneCuts): it walks
// the state's index up to the latest cut-off of any rule, and takes each
// job finished before the cut-off of the first rule that matches it, else
// the default's. The state is written in, so that the planner matches the
// partial index jobs_finished.

// pruneFinishedSQL deletes the finished jobs of state (completedSQL or
// cancelledSQL) past their cut-offs (sqlstore.PruneCut, n rules from $4
// on): at most $3, walking jobs_finished up to $1; $2 is the default
// cut-off.
func pruneFinishedSQL(state string, n int) string {
	return `DELETE FROM spool.jobs WHERE id = ANY (ARRAY
  (SELECT id FROM spool.jobs WHERE state = ` + state + ` AND finished_at < $1
    AND finished_at < ` + sqlstore.CutSQL(n, rulePlaceholder, "$2::bigint") + `
    ORDER BY finished_at LIMIT $3 FOR UPDATE SKIP LOCKED))`
}

// pruneDeadSQL is pruneFinishedSQL for dead jobs, walking dead_died. It
// leaves dead jobs that block their ordering key: the key's later jobs
// wait for an operator to retry or delete them.
func pruneDeadSQL(n int) string {
	return `DELETE FROM spool.dead WHERE id = ANY (ARRAY
  (SELECT id FROM spool.dead WHERE died_at < $1 AND NOT blocks_key
    AND died_at < ` + sqlstore.CutSQL(n, rulePlaceholder, "$2::bigint") + `
    ORDER BY died_at LIMIT $3 FOR UPDATE SKIP LOCKED))`
}

// rulePlaceholder numbers the rules' arguments (queue, kind, cut-off) from
// $4, the cut-offs typed.
func rulePlaceholder(i int) string {
	p := "$" + strconv.Itoa(4+i)
	if i%3 == 2 {
		p += "::bigint"
	}
	return p
}

const (
	sqlPruneMetrics = `WITH old AS (DELETE FROM spool.metrics WHERE minute < $1),
    slots AS (DELETE FROM spool.metrics_slots WHERE minute < $1)
  DELETE FROM spool.metrics_kinds WHERE minute < $1`
	// sqlPruneBatches removes the batches whose members all ended before
	// $1, at most $2, with their member rows.
	sqlPruneBatches = `WITH gone AS (
  DELETE FROM spool.batches WHERE id = ANY (ARRAY
    (SELECT id FROM spool.batches WHERE finished_at < $1 ORDER BY finished_at LIMIT $2)) RETURNING id),
members AS (DELETE FROM spool.batch_jobs WHERE batch_id IN (SELECT id FROM gone))
SELECT count(*) FROM gone`
	sqlPruneProcessed = `DELETE FROM spool.processed WHERE key = ANY (ARRAY
  (SELECT key FROM spool.processed WHERE processed_at < $1 ORDER BY processed_at LIMIT $2 FOR UPDATE SKIP LOCKED))`
	sqlPruneUnique = `DELETE FROM spool.unique_periods WHERE key = ANY (ARRAY
  (SELECT key FROM spool.unique_periods WHERE until < $1 ORDER BY until LIMIT $2 FOR UPDATE SKIP LOCKED))`
	// sqlPruneKeyRates removes per-key rate buckets full again before $1
	// (partition_rates_full), at most $2.
	sqlPruneKeyRates = `DELETE FROM spool.partition_rates WHERE ctid = ANY (ARRAY
  (SELECT ctid FROM spool.partition_rates WHERE full_at < $1 ORDER BY full_at LIMIT $2 FOR UPDATE SKIP LOCKED))`
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
		for _, c := range sqlstore.PruneCuts(p, x.f.us) {
			var query string
			switch rules := len(c.Rules) / 3; c.State {
			case queue.StateCompleted:
				query = pruneFinishedSQL(completedSQL, rules)
			case queue.StateCancelled:
				query = pruneFinishedSQL(cancelledSQL, rules)
			default:
				query = pruneDeadSQL(rules)
			}
			r, err := x.exec(ctx, query, append([]any{c.Latest, c.Default, limit}, c.Rules...)...)
			if err != nil {
				return err
			}
			k, _ := r.RowsAffected()
			n += k
		}
		for _, c := range []struct {
			query  string
			before time.Time
		}{{sqlPruneProcessed, p.ProcessedBefore}, {sqlPruneUnique, p.UniqueBefore}, {sqlPruneKeyRates, p.RateBucketsFullBefore}} {
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
		if !p.BatchesBefore.IsZero() {
			// Batches whose members all ended, with their member rows.
			var k int64
			if err := x.queryRow(ctx, sqlPruneBatches, x.f.us(p.BatchesBefore), limit).Scan(&k); err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	return int(n), err
}
