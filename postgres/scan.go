package postgres

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/spooljobs/spool/internal/jobcodec"
	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Job states as stored in spool.jobs.state (migrations/0001_init.sql's
// CHECK and partial indexes name the same numbers). A dead job has no
// state code: it lives in spool.dead. Queries name states as literals
// (the *SQL constants), never as parameters, so that the planner matches
// them to the partial indexes.
const (
	stPending   = sqlstore.CodePending
	stScheduled = sqlstore.CodeScheduled
	stRunning   = sqlstore.CodeRunning
	stCompleted = sqlstore.CodeCompleted
	stCancelled = sqlstore.CodeCancelled
	stBlocked   = sqlstore.CodeBlocked

	pendingSQL   = "0"
	scheduledSQL = "1"
	runningSQL   = "2"
	completedSQL = "3"
	cancelledSQL = "4"
	blockedSQL   = "5"
	// waitingSQL: a job not yet started (jobs_expiry).
	waitingSQL = "(0, 1, 5)"
	// liveSQL: a job that holds its unique key (jobs_unique).
	liveSQL = "(0, 1, 2, 5)"
	// keyHeadSQL: the head of an ordering key.
	keyHeadSQL = "(0, 1, 2)"
	// finishedSQL: a job kept after it ended (jobs_finished).
	finishedSQL = "(3, 4)"
)

// jobColumns is the column list every job query selects, in scanJob's order.
const jobColumns = `id, queue, kind, state, priority, run_at, attempt, max_attempts, timeout_us,
  created_at, attempted_at, finished_at, lease_until, lease_token, leased_by, cancel_requested,
  unique_key, order_key, expires_at, metadata, errors, payload`

// deadColumns selects spool.dead in the same shape as jobColumns, with the
// reason last. A dead job has no state code: NULL stands in its place.
const deadColumns = `id, queue, kind, NULL::smallint, priority, run_at, attempt, max_attempts, timeout_us,
  created_at, attempted_at, died_at, NULL::bigint, NULL::bigint, NULL::text, false,
  unique_key, order_key, expires_at, metadata, errors, payload, reason`

// jobColumnsNoPayload and deadColumnsNoPayload read NULL in the payload's
// place, for lists that do not show it.
const (
	jobColumnsNoPayload = `id, queue, kind, state, priority, run_at, attempt, max_attempts, timeout_us,
  created_at, attempted_at, finished_at, lease_until, lease_token, leased_by, cancel_requested,
  unique_key, order_key, expires_at, metadata, errors, NULL::bytea`
	deadColumnsNoPayload = `id, queue, kind, NULL::smallint, priority, run_at, attempt, max_attempts, timeout_us,
  created_at, attempted_at, died_at, NULL::bigint, NULL::bigint, NULL::text, false,
  unique_key, order_key, expires_at, metadata, errors, NULL::bytea, reason`
)

// scanJob reads a row of jobColumns (dead: deadColumns), its times
// translated by f.
func (f frame) scanJob(r scanner, dead bool) (*queue.Job, error) {
	return f.scanJobWith(r, dead)
}

// scanJobAnd reads a row of jobColumns followed by more columns, into
// more.
func (f frame) scanJobAnd(r scanner, more ...any) (*queue.Job, error) {
	return f.scanJobWith(r, false, more...)
}

// scanJobWith reads a row of jobColumns (dead: deadColumns), then the
// columns of more.
func (f frame) scanJobWith(r scanner, dead bool, more ...any) (*queue.Job, error) {
	var (
		j                                               queue.Job
		timeout                                         int64
		state                                           sql.NullInt64
		runAt, createdAt                                int64
		attemptedAt, finishedAt, leaseUntil, leaseToken sql.NullInt64
		expiresAt                                       sql.NullInt64
		leasedBy, uniqueKey, orderKey, metadata, errs   sql.NullString
		deadReason                                      sql.NullString
	)
	dest := []any{&j.ID, &j.Queue, &j.Kind, &state, &j.Priority, &runAt, &j.Attempt, &j.MaxAttempts, &timeout,
		&createdAt, &attemptedAt, &finishedAt, &leaseUntil, &leaseToken, &leasedBy, &j.CancelRequested,
		&uniqueKey, &orderKey, &expiresAt, &metadata, &errs, &j.Payload}
	if dead {
		dest = append(dest, &deadReason)
	}
	dest = append(dest, more...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	var err error
	if j.State, err = sqlstore.JobState(j.ID, dead, state); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	j.Timeout = time.Duration(timeout) * time.Microsecond
	j.RunAt = f.time(runAt)
	j.CreatedAt = f.time(createdAt)
	j.AttemptedAt = f.nullTime(attemptedAt)
	j.FinishedAt = f.nullTime(finishedAt)
	j.LeaseUntil = f.nullTime(leaseUntil)
	j.LeaseToken = leaseToken.Int64
	j.LeasedBy = leasedBy.String
	j.UniqueKey = uniqueKey.String
	j.OrderKey = orderKey.String
	j.ExpiresAt = f.nullTime(expiresAt)
	j.DeadReason = deadReason.String
	if j.Metadata, err = jobcodec.DecodeMetadata(metadata.String); err != nil {
		return nil, fmt.Errorf("postgres: job %d: metadata: %w", j.ID, err)
	}
	if errs.String != "" {
		if j.Errors, j.ErrorsDropped, err = jobcodec.DecodeErrors(errs.String); err != nil {
			return nil, fmt.Errorf("postgres: job %d: errors: %w", j.ID, err)
		}
		for i := range j.Errors {
			j.Errors[i].At = f.out(j.Errors[i].At)
		}
	}
	if j.Payload == nil {
		j.Payload = []byte{}
	}
	return &j, nil
}
