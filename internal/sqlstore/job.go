package sqlstore

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/spooljobs/spool/internal/jobcodec"
	"github.com/spooljobs/spool/queue"
)

// JobRow is a row of a store's job columns as stored, its times integers
// the store reads: id, queue, kind, state, priority, run_at, attempt,
// max_attempts, timeout_us, created_at, attempted_at, finished_at,
// lease_until, lease_token, leased_by, cancel_requested, unique_key,
// order_key, partition_key, expires_at, metadata, errors, payload; a row of the dead
// table has its reason after them (and NULL state and lease columns).
type JobRow struct {
	job                                             queue.Job
	timeout                                         int64
	state                                           sql.NullInt64
	runAt, createdAt                                int64
	attemptedAt, finishedAt, leaseUntil, leaseToken sql.NullInt64
	expiresAt                                       sql.NullInt64
	leasedBy, uniqueKey, orderKey, partitionKey     sql.NullString
	metadata, errs                                  sql.NullString
	deadReason                                      sql.NullString
}

// Dest returns the scan destinations of the row's columns (dead: with
// the reason).
func (r *JobRow) Dest(dead bool) []any {
	j := &r.job
	dest := []any{&j.ID, &j.Queue, &j.Kind, &r.state, &j.Priority, &r.runAt, &j.Attempt, &j.MaxAttempts, &r.timeout,
		&r.createdAt, &r.attemptedAt, &r.finishedAt, &r.leaseUntil, &r.leaseToken, &r.leasedBy, &j.CancelRequested,
		&r.uniqueKey, &r.orderKey, &r.partitionKey, &r.expiresAt, &r.metadata, &r.errs, &j.Payload}
	if dead {
		dest = append(dest, &r.deadReason)
	}
	return dest
}

// Job returns the job the row scanned (dead: a row of the dead table),
// its times read by at from their stored integers. The times of its error
// history are as stored.
func (r *JobRow) Job(dead bool, at func(int64) time.Time) (*queue.Job, error) {
	j := r.job
	var err error
	if j.State, err = JobState(j.ID, dead, r.state); err != nil {
		return nil, err
	}
	nullAt := func(v sql.NullInt64) time.Time {
		if !v.Valid {
			return time.Time{}
		}
		return at(v.Int64)
	}
	j.Timeout = time.Duration(r.timeout) * time.Microsecond
	j.RunAt = at(r.runAt)
	j.CreatedAt = at(r.createdAt)
	j.AttemptedAt = nullAt(r.attemptedAt)
	j.FinishedAt = nullAt(r.finishedAt)
	j.LeaseUntil = nullAt(r.leaseUntil)
	j.LeaseToken = r.leaseToken.Int64
	j.LeasedBy = r.leasedBy.String
	j.UniqueKey = r.uniqueKey.String
	j.OrderKey = r.orderKey.String
	j.PartitionKey = r.partitionKey.String
	j.ExpiresAt = nullAt(r.expiresAt)
	j.DeadReason = r.deadReason.String
	if err := DecodeJobColumns(&j, r.metadata.String, r.errs.String); err != nil {
		return nil, err
	}
	return &j, nil
}

// DecodeJobColumns fills j's metadata and error history from their
// columns ("" for NULL), and makes a NULL payload empty.
func DecodeJobColumns(j *queue.Job, metadata, errs string) error {
	var err error
	if j.Metadata, err = jobcodec.DecodeMetadata(metadata); err != nil {
		return fmt.Errorf("job %d: metadata: %w", j.ID, err)
	}
	if errs != "" {
		if j.Errors, j.ErrorsDropped, err = jobcodec.DecodeErrors(errs); err != nil {
			return fmt.Errorf("job %d: errors: %w", j.ID, err)
		}
	}
	if j.Payload == nil {
		j.Payload = []byte{}
	}
	return nil
}
