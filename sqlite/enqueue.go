package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/spooljobs/spool/queue"
)

const (
	// sqlInsertJob inserts one job; ON CONFLICT DO NOTHING skips a job
	// whose unique key a live job holds (the unique index decides).
	sqlInsertJob = `INSERT INTO spool_jobs
  (queue, kind, state, priority, run_at, max_attempts, timeout_us, created_at, unique_key, metadata, payload)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT DO NOTHING`
	sqlUniqueHolder = `SELECT id FROM spool_jobs WHERE unique_key = ? AND state IN (0, 1, 2)`
)

// Enqueue implements queue.Store.
func (s *Store) Enqueue(ctx context.Context, tx *sql.Tx, now time.Time, jobs []queue.NewJob) ([]queue.EnqueueResult, error) {
	res := make([]queue.EnqueueResult, len(jobs))
	meta := make([]any, len(jobs))
	for i, j := range jobs {
		m, err := encodeMetadata(j.Metadata)
		if err != nil {
			return nil, fmt.Errorf("sqlite: job %d metadata: %w", i, err)
		}
		meta[i] = m
	}
	nowUS := micros(now)
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		for i, j := range jobs {
			state := stPending
			if j.RunAt.After(now) {
				state = stScheduled
			}
			r, err := x.exec(ctx, sqlInsertJob, j.Queue, j.Kind, state, j.Priority, micros(j.RunAt),
				j.MaxAttempts, j.Timeout.Microseconds(), nowUS, nullString(j.UniqueKey), meta[i], j.Payload)
			if err != nil {
				return err
			}
			if n, _ := r.RowsAffected(); n == 1 {
				id, err := r.LastInsertId()
				if err != nil {
					return err
				}
				res[i] = queue.EnqueueResult{ID: id}
				continue
			}
			if j.UniqueKey == "" {
				return fmt.Errorf("sqlite: job %d was not inserted", i)
			}
			var id int64
			if err := x.queryRow(ctx, sqlUniqueHolder, j.UniqueKey).Scan(&id); err != nil {
				return fmt.Errorf("sqlite: unique key %q: %w", j.UniqueKey, err)
			}
			res[i] = queue.EnqueueResult{ID: id, Duplicate: true}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
