package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"sort"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Settling ends an attempt as its outcome says. Every statement here names
// the job by id and the lease token, and requires state running: a worker
// that lost its lease changes nothing.

// Settle implements queue.Store. It answers each settlement in errs: nil,
// or an error wrapping queue.ErrLeaseLost.
//
// A batch of plain completions settles in one round trip (settlefast.go).
func (s *Store) Settle(ctx context.Context, tx *sql.Tx, settlements []queue.Settlement) ([]error, error) {
	if errs, ok, err := s.settleFast(ctx, tx, settlements); ok {
		return errs, err
	}
	return s.settleLong(ctx, tx, settlements)
}

// settleLong settles in a transaction of several statements.
func (s *Store) settleLong(ctx context.Context, tx *sql.Tx, settlements []queue.Settlement) ([]error, error) {
	errs := make([]error, len(settlements))
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		counts := sqlstore.Throughput{}
		var ended parentsEnded
		var keys sqlstore.KeyPromotions
		if err := lockSettledKeys(ctx, x, settlements); err != nil {
			return err
		}
		if err := lockSettledJobs(ctx, x, settlements); err != nil {
			return err
		}
		done, err := completeDeleteBatched(ctx, x, settlements, errs)
		if err != nil {
			return err
		}
		for i, st := range settlements {
			if !done[i] {
				var held bool
				if held, err = settleOne(ctx, x, st); err != nil {
					return err
				}
				errs[i] = nil
				if !held {
					errs[i] = sqlstore.LeaseLost(st.JobID, st.Outcome)
				}
			}
			if errs[i] == nil {
				// The job left the live set, or (a retry, snooze or
				// release of a job an operator cancelled meanwhile) may
				// have: its key may move on, after the loop, with the
				// batch's other keys (a key whose head stays does not).
				keys.Add(st.Queue, st.OrderKey, st.Now)
				counts.Count(st)
				if err := settleOutput(ctx, x, st); err != nil {
					return err
				}
				ended.settlement(st)
			}
		}
		if err := promoteKeys(ctx, x, &keys); err != nil {
			return err
		}
		if len(settlements) > 0 {
			if err := ended.resolve(ctx, x, settlements[0].Now); err != nil {
				return err
			}
		}
		return recordThroughput(ctx, x, counts)
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

// lockSettledKeys takes the advisory locks of the settled jobs' ordering
// keys before any job row is touched (lockKeysInOrder); promoteKeys moves
// the keys on under those locks after the jobs left.
func lockSettledKeys(ctx context.Context, x *xtx, settlements []queue.Settlement) error {
	keys := make([]queueKey, 0, len(settlements))
	for _, st := range settlements {
		keys = append(keys, queueKey{st.Queue, st.OrderKey})
	}
	return lockKeysInOrder(ctx, x, keys)
}

// sqlLockJobs locks job rows in id order (the sort runs below the lock).
const sqlLockJobs = `SELECT id FROM spool.jobs WHERE id = ANY($1) ORDER BY id FOR UPDATE`

// lockSettledJobs locks the settled jobs' rows in id order, after their
// keys' locks and before any of them changes, as Extend updates them: the
// statements below then lock rows this transaction holds, and two settles
// (a worker's and a rescue) or a settle and a heartbeat of the same jobs
// never wait on each other in a cycle.
func lockSettledJobs(ctx context.Context, x *xtx, settlements []queue.Settlement) error {
	ids := make([]int64, len(settlements))
	for i, st := range settlements {
		ids[i] = st.JobID
	}
	return lockJobs(ctx, x, ids)
}

// lockJobs locks the rows of the jobs ids in id order (sqlLockJobs).
func lockJobs(ctx context.Context, x *xtx, ids []int64) error {
	rows, err := x.query(ctx, sqlLockJobs, ids)
	if err != nil {
		return err
	}
	return rows.Close()
}

// queueKey is an ordering key of a queue.
type queueKey struct{ queue, key string }

// lockKeysInOrder takes the advisory locks of keys (empty keys skipped),
// sorted, so that two writes that lock several keys never wait on each
// other in a cycle. Every write that decides a key's head takes the key's
// lock first, then job rows. Several keys are locked in one statement
// (sqlLockKeys).
func lockKeysInOrder(ctx context.Context, x *xtx, keys []queueKey) error {
	sorted := make([]queueKey, 0, len(keys))
	for _, k := range keys {
		if k.key != "" {
			sorted = append(sorted, k)
		}
	}
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].queue != sorted[j].queue {
			return sorted[i].queue < sorted[j].queue
		}
		return sorted[i].key < sorted[j].key
	})
	var queues, names []string
	for i, k := range sorted {
		if i > 0 && k == sorted[i-1] {
			continue
		}
		queues, names = append(queues, k.queue), append(names, k.key)
	}
	switch len(names) {
	case 0:
		return nil
	case 1:
		return lockKey(ctx, x, queues[0], names[0])
	}
	_, err := x.exec(ctx, sqlLockKeys, x.s.schema, queues, names)
	return err
}

// settleOne settles st on its own and reports whether its lease still
// held.
func settleOne(ctx context.Context, x *xtx, st queue.Settlement) (bool, error) {
	switch st.Outcome {
	case queue.OutcomeComplete:
		return settleComplete(ctx, x, st)
	case queue.OutcomeRetry:
		return settleRetry(ctx, x, st)
	case queue.OutcomeSnooze:
		return execHeld(ctx, x, sqlSnooze, x.f.us(st.RunAt), x.f.us(st.Now), st.JobID, st.Token)
	case queue.OutcomeRelease:
		return execHeld(ctx, x, sqlReleaseJob, x.f.us(st.RunAt), st.JobID, st.Token)
	case queue.OutcomeCancel:
		return execHeld(ctx, x, sqlCancelRunning, x.f.us(st.Now), st.JobID, st.Token)
	case queue.OutcomeDead:
		return settleDead(ctx, x, st)
	default:
		return false, fmt.Errorf("postgres: settle job %d: unknown outcome %v", st.JobID, st.Outcome)
	}
}

// execHeld runs one of the statements below and reports whether it
// changed the job: whether its lease still held.
func execHeld(ctx context.Context, x *xtx, query string, args ...any) (bool, error) {
	r, err := x.exec(ctx, query, args...)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n > 0, err
}

const (
	sqlCompleteKeep = `UPDATE spool.jobs SET state = ` + completedSQL + `, finished_at = $1, lease_until = NULL, lease_token = NULL
  WHERE id = $2 AND lease_token = $3 AND state = ` + runningSQL
	sqlCompleteDelete = `DELETE FROM spool.jobs WHERE id = $1 AND lease_token = $2 AND state = ` + runningSQL
)

// settleComplete keeps the job as completed, or deletes it. (The
// deletions completeDeleteBatched did not batch: the job has another
// settlement in this call.)
func settleComplete(ctx context.Context, x *xtx, st queue.Settlement) (bool, error) {
	if st.Keep {
		return execHeld(ctx, x, sqlCompleteKeep, x.f.us(st.Now), st.JobID, st.Token)
	}
	return execHeld(ctx, x, sqlCompleteDelete, st.JobID, st.Token)
}

// sqlRetry records the failed attempt and schedules the next one; a job
// an operator cancelled while it ran ends cancelled instead. With $6 set,
// only once the lease has expired.
const sqlRetry = `UPDATE spool.jobs SET
  state = CASE WHEN cancel_requested THEN ` + cancelledSQL + ` WHEN $1::bigint <= $2::bigint THEN ` + pendingSQL + ` ELSE ` + scheduledSQL + ` END,
  run_at = $1::bigint, finished_at = CASE WHEN cancel_requested THEN $2::bigint END,
  lease_until = NULL, lease_token = NULL,
  errors = coalesce($3::text, errors)
  WHERE id = $4 AND lease_token = $5 AND state = ` + runningSQL + ` AND (NOT $6::boolean OR lease_until < $2::bigint)`

// settleRetry records st's error and schedules the job's next attempt.
func settleRetry(ctx context.Context, x *xtx, st queue.Settlement) (bool, error) {
	history, err := appendAttemptError(ctx, x, st)
	if err != nil {
		return false, err
	}
	return execHeld(ctx, x, sqlRetry, x.f.us(st.RunAt), x.f.us(st.Now), history, st.JobID, st.Token, st.IfExpired)
}

// settleDead moves the job to spool.dead (dead.go) with its error.
func settleDead(ctx context.Context, x *xtx, st queue.Settlement) (bool, error) {
	history, err := appendAttemptError(ctx, x, st)
	if err != nil {
		return false, err
	}
	return moveToDead(ctx, x, sqlDeadMove, st.JobID, x.f.us(st.Now), st.Reason, history, st.Token, st.IfExpired)
}

const (
	// sqlSnooze reschedules without spending the attempt.
	sqlSnooze = `UPDATE spool.jobs SET
  state = CASE WHEN cancel_requested THEN ` + cancelledSQL + ` WHEN $1::bigint <= $2::bigint THEN ` + pendingSQL + ` ELSE ` + scheduledSQL + ` END,
  run_at = $1::bigint, finished_at = CASE WHEN cancel_requested THEN $2::bigint END,
  attempt = greatest(attempt - 1, 0), lease_until = NULL, lease_token = NULL
  WHERE id = $3 AND lease_token = $4 AND state = ` + runningSQL
	// sqlReleaseJob hands an unfinished job back when its worker stops.
	sqlReleaseJob = `UPDATE spool.jobs SET
  state = CASE WHEN cancel_requested THEN ` + cancelledSQL + ` ELSE ` + pendingSQL + ` END,
  run_at = $1::bigint, finished_at = CASE WHEN cancel_requested THEN $1::bigint END,
  attempt = greatest(attempt - 1, 0), lease_until = NULL, lease_token = NULL
  WHERE id = $2 AND lease_token = $3 AND state = ` + runningSQL
	// sqlCancelRunning ends a job its worker gave up on after a cancel
	// request.
	sqlCancelRunning = `UPDATE spool.jobs SET state = ` + cancelledSQL + `, finished_at = $1, lease_until = NULL, lease_token = NULL
  WHERE id = $2 AND lease_token = $3 AND state = ` + runningSQL
)

// Completions that delete their job are settled in one statement per
// lease token: a lease hands all its jobs one token, so a settle batch
// holds few. RETURNING names the jobs whose lease still held. The rows
// are locked in id order, as Extend locks them: in any other order the
// two deadlock (PostgreSQL finds it after deadlock_timeout, 1s, and the
// write is retried; a drain stalled for that second dozens of times).
// "state + 0" keeps the rows' lookup in jobs_pkey, as in sqlSettleFast.
const sqlCompleteDeleteMany = `DELETE FROM spool.jobs WHERE id = ANY (ARRAY(SELECT id FROM spool.jobs
  WHERE lease_token = $1 AND state + 0 = ` + runningSQL + ` AND id = ANY($2) ORDER BY id FOR UPDATE))
  RETURNING id`

// completeDeleteBatched settles the completions that delete their job,
// grouped by lease token (sqlstore.DeleteGroups). It marks in done the
// settlements it handled and sets errs for those whose lease was lost.
func completeDeleteBatched(ctx context.Context, x *xtx, settlements []queue.Settlement, errs []error) ([]bool, error) {
	groups, done := sqlstore.DeleteGroups(settlements, 0)
	for _, group := range groups {
		if err := completeDeleteGroup(ctx, x, settlements, group, errs); err != nil {
			return nil, err
		}
	}
	return done, nil
}

// completeDeleteGroup deletes the jobs of the settlements group indexes,
// all under one lease token, in one statement, and sets errs for those
// whose lease was lost.
func completeDeleteGroup(ctx context.Context, x *xtx, settlements []queue.Settlement, group []int, errs []error) error {
	ids := make([]int64, len(group))
	for n, k := range group {
		ids[n] = settlements[k].JobID
	}
	rows, err := x.query(ctx, sqlCompleteDeleteMany, settlements[group[0]].Token, ids)
	if err != nil {
		return err
	}
	deleted, err := collect(rows, scanID)
	if err != nil {
		return err
	}
	sqlstore.MarkDeleted(settlements, group, deleted, errs)
	return nil
}
