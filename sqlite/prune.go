package sqlite

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Pruning. Finished jobs go in one delete per state (sqlstore.PruneCuts):
// it walks the state's index oldest first, up to the latest cut-off of any
// rule, and takes each job finished before the cut-off of the first rule
// that matches it, else the default's. Dead jobs that block their ordering
// key are not pruned: the key's later jobs wait for an operator to retry or
// delete them.
const (
	sqlPruneMetrics = `DELETE FROM spool_metrics_kinds WHERE minute < ?`
	sqlPruneUnique  = `DELETE FROM spool_unique WHERE key IN
  (SELECT key FROM spool_unique WHERE until < ? ORDER BY until LIMIT ?)`
	// sqlPruneBatches and sqlPruneBatchMembers remove the batches whose
	// members all ended before ?1, at most ?2.
	sqlPruneBatches = `DELETE FROM spool_batches WHERE id IN
  (SELECT id FROM spool_batches WHERE finished_at < ?1 ORDER BY finished_at LIMIT ?2)`
	sqlPruneBatchMembers = `DELETE FROM spool_batch_jobs WHERE batch_id IN
  (SELECT id FROM spool_batches WHERE finished_at < ?1 ORDER BY finished_at LIMIT ?2)`
	sqlPruneProcessed = `DELETE FROM spool_processed WHERE key IN
  (SELECT key FROM spool_processed WHERE processed_at < ? ORDER BY processed_at LIMIT ?)`
	// sqlPruneKeyRates removes per-key rate buckets full again before ?1
	// (spool_partition_rates_full), at most ?2.
	sqlPruneKeyRates = `DELETE FROM spool_partition_rates WHERE rowid IN
  (SELECT rowid FROM spool_partition_rates WHERE full_at < ? ORDER BY full_at LIMIT ?)`
)

// pruneFinishedSQL deletes the finished jobs of state ?3 past their
// cut-offs (sqlstore.PruneCut, n rules from ?5 on): at most ?4, walking
// spool_jobs_finished up to ?1; ?2 is the default cut-off. It returns the
// deleted jobs that were tracked (tracked.go), whose rows go next, and
// NULL for each other one.
func pruneFinishedSQL(n int) string {
	return `DELETE FROM spool_jobs WHERE id IN
  (SELECT id FROM spool_jobs WHERE state IN ` + finishedSQL + ` AND state = ?3 AND finished_at < ?1
    AND finished_at < ` + sqlstore.CutSQL(n, rulePlaceholder, "?2") + `
    ORDER BY finished_at LIMIT ?4)
  RETURNING CASE WHEN tracked THEN id END`
}

// pruneDeadSQL is pruneFinishedSQL for dead jobs, walking spool_dead_died
// (?3, the state, unused).
func pruneDeadSQL(n int) string {
	return `DELETE FROM spool_dead WHERE id IN
  (SELECT id FROM spool_dead WHERE died_at < ?1 AND NOT blocks_key
    AND died_at < ` + sqlstore.CutSQL(n, rulePlaceholder, "?2") + `
    ORDER BY died_at LIMIT ?4)`
}

// rulePlaceholder numbers the rules' arguments from ?5.
func rulePlaceholder(i int) string { return "?" + strconv.Itoa(5+i) }

// Prune implements queue.Store.
func (s *Store) Prune(ctx context.Context, p queue.PruneParams) (int, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	cuts := sqlstore.PruneCuts(p, micros)
	var n int64
	err := s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		n = 0
		for _, c := range cuts {
			query := pruneDeadSQL(len(c.Rules) / 3)
			if c.State != queue.StateDead {
				query = pruneFinishedSQL(len(c.Rules) / 3)
			}
			args := append([]any{c.Latest, c.Default, sqlstore.StateCode(c.State), limit}, c.Rules...)
			if c.State != queue.StateDead {
				k, err := pruneFinished(ctx, x, query, args)
				if err != nil {
					return err
				}
				n += k
				continue
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
		}{{sqlPruneProcessed, p.ProcessedBefore}, {sqlPruneUnique, p.UniqueBefore}, {sqlPruneKeyRates, p.RateBucketsFullBefore}} {
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
		if !p.BatchesBefore.IsZero() {
			// Batches whose members all ended, with their member rows.
			if _, err := x.exec(ctx, sqlPruneBatchMembers, micros(p.BatchesBefore), limit); err != nil {
				return err
			}
			r, err := x.exec(ctx, sqlPruneBatches, micros(p.BatchesBefore), limit)
			if err != nil {
				return err
			}
			k, _ := r.RowsAffected()
			n += k
		}
		return nil
	})
	return int(n), err
}

// pruneFinished runs query, a pruneFinishedSQL, and removes the rows of the
// tracked jobs it deleted. It returns how many jobs it deleted.
func pruneFinished(ctx context.Context, x *xtx, query string, args []any) (int64, error) {
	rows, err := x.query(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	ids, err := collect(rows, func(r scanner) (sql.NullInt64, error) {
		var id sql.NullInt64
		return id, r.Scan(&id)
	})
	if err != nil {
		return 0, err
	}
	var tracked []int64
	for _, id := range ids {
		if id.Valid {
			tracked = append(tracked, id.Int64)
		}
	}
	return int64(len(ids)), dropTracked(ctx, x, tracked)
}
