package postgres

import (
	"fmt"

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
  unique_key, order_key, partition_key, expires_at, metadata, errors, payload`

// deadColumns selects spool.dead in the same shape as jobColumns, with the
// reason last. A dead job has no state code: NULL stands in its place.
const deadColumns = `id, queue, kind, NULL::smallint, priority, run_at, attempt, max_attempts, timeout_us,
  created_at, attempted_at, died_at, NULL::bigint, NULL::bigint, NULL::text, false,
  unique_key, order_key, partition_key, expires_at, metadata, errors, payload, reason`

// jobColumnsNoPayload and deadColumnsNoPayload read NULL in the payload's
// place, for lists that do not show it.
const (
	jobColumnsNoPayload = `id, queue, kind, state, priority, run_at, attempt, max_attempts, timeout_us,
  created_at, attempted_at, finished_at, lease_until, lease_token, leased_by, cancel_requested,
  unique_key, order_key, partition_key, expires_at, metadata, errors, NULL::bytea`
	deadColumnsNoPayload = `id, queue, kind, NULL::smallint, priority, run_at, attempt, max_attempts, timeout_us,
  created_at, attempted_at, died_at, NULL::bigint, NULL::bigint, NULL::text, false,
  unique_key, order_key, partition_key, expires_at, metadata, errors, NULL::bytea, reason`
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
	var row sqlstore.JobRow
	if err := r.Scan(append(row.Dest(dead), more...)...); err != nil {
		return nil, err
	}
	j, err := row.Job(dead, f.time)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	for i := range j.Errors {
		j.Errors[i].At = f.out(j.Errors[i].At)
	}
	return j, nil
}
