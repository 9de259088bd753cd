package sqlite

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/spooljobs/spool/internal/jobcodec"
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
  unique_key, order_key, expires_at, metadata, errors, payload`

// deadColumns selects spool_dead in the same shape as jobColumns. A dead
// job has no state code: NULL stands in its place.
const deadColumns = `id, queue, kind, NULL, priority, run_at, attempt, max_attempts, timeout_us,
  created_at, attempted_at, died_at, NULL, NULL, NULL, 0,
  unique_key, order_key, expires_at, metadata, errors, payload, reason`

// jobColumnsNoPayload and deadColumnsNoPayload read NULL in the payload's
// place, for lists that do not show it.
const (
	jobColumnsNoPayload = `id, queue, kind, state, priority, run_at, attempt, max_attempts, timeout_us,
  created_at, attempted_at, finished_at, lease_until, lease_token, leased_by, cancel_requested,
  unique_key, order_key, expires_at, metadata, errors, NULL`
	deadColumnsNoPayload = `id, queue, kind, NULL, priority, run_at, attempt, max_attempts, timeout_us,
  created_at, attempted_at, died_at, NULL, NULL, NULL, 0,
  unique_key, order_key, expires_at, metadata, errors, NULL, reason`
)

func scanJob(r scanner, dead bool) (*queue.Job, error) {
	var (
		j                                               queue.Job
		timeout                                         int64
		state                                           sql.NullInt64
		runAt, createdAt                                int64
		attemptedAt, finishedAt, leaseUntil, leaseToken sql.NullInt64
		expiresAt                                       sql.NullInt64
		leasedBy, uniqueKey, orderKey, metadata, errs   sql.NullString
		deadReason                                      sql.NullString
		cancelReq                                       bool
	)
	dest := []any{&j.ID, &j.Queue, &j.Kind, &state, &j.Priority, &runAt, &j.Attempt, &j.MaxAttempts, &timeout,
		&createdAt, &attemptedAt, &finishedAt, &leaseUntil, &leaseToken, &leasedBy, &cancelReq,
		&uniqueKey, &orderKey, &expiresAt, &metadata, &errs, &j.Payload}
	if dead {
		dest = append(dest, &deadReason)
	}
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	var err error
	if j.State, err = sqlstore.JobState(j.ID, dead, state); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	j.Timeout = time.Duration(timeout) * time.Microsecond
	j.RunAt = time.UnixMicro(runAt)
	j.CreatedAt = time.UnixMicro(createdAt)
	j.AttemptedAt = fromMicros(attemptedAt)
	j.FinishedAt = fromMicros(finishedAt)
	j.LeaseUntil = fromMicros(leaseUntil)
	j.LeaseToken = leaseToken.Int64
	j.LeasedBy = leasedBy.String
	j.CancelRequested = cancelReq
	j.UniqueKey = uniqueKey.String
	j.OrderKey = orderKey.String
	j.ExpiresAt = fromMicros(expiresAt)
	j.DeadReason = deadReason.String
	if err := decodeJSONColumns(&j, metadata, errs); err != nil {
		return nil, err
	}
	return &j, nil
}

// decodeJSONColumns fills j's metadata and attempt errors from their JSON
// columns, and makes a NULL payload empty.
func decodeJSONColumns(j *queue.Job, metadata, errs sql.NullString) error {
	var err error
	if j.Metadata, err = jobcodec.DecodeMetadata(metadata.String); err != nil {
		return fmt.Errorf("sqlite: job %d: metadata: %w", j.ID, err)
	}
	if errs.Valid && errs.String != "" {
		if j.Errors, j.ErrorsDropped, err = jobcodec.DecodeErrors(errs.String); err != nil {
			return fmt.Errorf("sqlite: job %d: errors: %w", j.ID, err)
		}
	}
	if j.Payload == nil {
		j.Payload = []byte{}
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
