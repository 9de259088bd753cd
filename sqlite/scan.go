package sqlite

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Times are stored as unix microseconds (UTC integers sort and compare).

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64)
}

// jobColumns is the column list every job query selects, in scanJob's order.
const jobColumns = `id, queue, kind, state, priority, run_at, attempt, max_attempts, timeout_us,
  created_at, attempted_at, finished_at, lease_until, lease_token, leased_by, cancel_requested,
  unique_key, order_key, partition_key, expires_at, metadata, errors, payload`

// deadColumns selects spool_dead in the same shape as jobColumns. A dead
// job has no state code: NULL stands in its place.
const deadColumns = `id, queue, kind, NULL, priority, run_at, attempt, max_attempts, timeout_us,
  created_at, attempted_at, died_at, NULL, NULL, NULL, 0,
  unique_key, order_key, partition_key, expires_at, metadata, errors, payload, reason`

// jobColumnsNoPayload and deadColumnsNoPayload read NULL in the payload's
// place, for lists that do not show it.
const (
	jobColumnsNoPayload = `id, queue, kind, state, priority, run_at, attempt, max_attempts, timeout_us,
  created_at, attempted_at, finished_at, lease_until, lease_token, leased_by, cancel_requested,
  unique_key, order_key, partition_key, expires_at, metadata, errors, NULL`
	deadColumnsNoPayload = `id, queue, kind, NULL, priority, run_at, attempt, max_attempts, timeout_us,
  created_at, attempted_at, died_at, NULL, NULL, NULL, 0,
  unique_key, order_key, partition_key, expires_at, metadata, errors, NULL, reason`
)

// scanJob reads a row of jobColumns (dead: deadColumns).
func scanJob(r scanner, dead bool) (*queue.Job, error) {
	var row sqlstore.JobRow
	if err := r.Scan(row.Dest(dead)...); err != nil {
		return nil, err
	}
	j, err := row.Job(dead, time.UnixMicro)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return j, nil
}

// decodeJSONColumns fills j's metadata and attempt errors from their JSON
// columns, and makes a NULL payload empty (sqlstore.DecodeJobColumns).
func decodeJSONColumns(j *queue.Job, metadata, errs sql.NullString) error {
	if err := sqlstore.DecodeJobColumns(j, metadata.String, errs.String); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}
