package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Settling ends an attempt as its outcome says. Every statement here names
// the job by id and the lease token, and requires state running: a worker
// that lost its lease changes nothing.

// Settle implements queue.Store. It answers each settlement in errs: nil,
// or an error wrapping queue.ErrLeaseLost.
func (s *Store) Settle(ctx context.Context, tx *sql.Tx, settlements []queue.Settlement) ([]error, error) {
	errs := make([]error, len(settlements))
	var childReady bool
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		counts := sqlstore.Throughput{}
		var ended parentsEnded
		var keys sqlstore.KeyPromotions
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
				// Its lease held, so it was its key's head: a
				// completion, cancel or death frees the key and skips
				// the promotion's head check (AddSettled).
				keys.AddSettled(st)
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
			if childReady, err = ended.resolve(ctx, x, settlements[0].Now); err != nil {
				return err
			}
		}
		return recordThroughput(ctx, x, counts)
	})
	if err != nil {
		return nil, err
	}
	if childReady {
		s.wakeAfter(tx, "") // children whose parents all ended (deps.go)
	}
	return errs, nil
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
		return execHeld(ctx, x, sqlSnooze, micros(st.RunAt), micros(st.Now), st.JobID, st.Token)
	case queue.OutcomeRelease:
		return execHeld(ctx, x, sqlRelease, micros(st.RunAt), st.JobID, st.Token)
	case queue.OutcomeCancel:
		return execHeld(ctx, x, sqlCancelRunning, micros(st.Now), st.JobID, st.Token)
	case queue.OutcomeDead:
		return settleDead(ctx, x, st)
	default:
		return false, fmt.Errorf("sqlite: settle job %d: unknown outcome %v", st.JobID, st.Outcome)
	}
}

// execHeld runs one of the statements below and reports whether it
// changed the job: whether its lease still held.
func execHeld(ctx context.Context, x *xtx, query string, args ...any) (bool, error) {
	r, err := x.exec(ctx, query, args...)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n > 0, nil
}

const (
	sqlCompleteKeep = `UPDATE spool_jobs SET state = ` + completedSQL + `, finished_at = ?, lease_until = NULL, lease_token = NULL
  WHERE id = ? AND lease_token = ? AND state = ` + runningSQL
	sqlCompleteDelete = `DELETE FROM spool_jobs WHERE id = ? AND lease_token = ? AND state = ` + runningSQL + ` RETURNING tracked`
)

// settleComplete keeps the job as completed, or deletes it, and a
// tracked job's rows with it. (The deletions completeDeleteBatched did not
// batch: the job has another settlement in this call.)
func settleComplete(ctx context.Context, x *xtx, st queue.Settlement) (bool, error) {
	if st.Keep {
		return execHeld(ctx, x, sqlCompleteKeep, micros(st.Now), st.JobID, st.Token)
	}
	var tracked bool
	held, err := sqlstore.Found(x.queryRow(ctx, sqlCompleteDelete, st.JobID, st.Token).Scan(&tracked))
	if err != nil || !tracked {
		return held, err
	}
	return held, dropTracked(ctx, x, []int64{st.JobID})
}

// sqlRetry records the failed attempt and schedules the next one; a job
// an operator cancelled while it ran ends cancelled instead. With ?6 set,
// only once the lease has expired.
const sqlRetry = `UPDATE spool_jobs SET
  state = CASE WHEN cancel_requested THEN ` + cancelledSQL + ` WHEN ?1 <= ?2 THEN ` + pendingSQL + ` ELSE ` + scheduledSQL + ` END,
  run_at = ?1, finished_at = CASE WHEN cancel_requested THEN ?2 END,
  lease_until = NULL, lease_token = NULL,
  errors = coalesce(?3, errors)
  WHERE id = ?4 AND lease_token = ?5 AND state = ` + runningSQL + ` AND (?6 = 0 OR lease_until < ?2)`

func settleRetry(ctx context.Context, x *xtx, st queue.Settlement) (bool, error) {
	history, err := appendAttemptError(ctx, x, st)
	if err != nil {
		return false, err
	}
	return execHeld(ctx, x, sqlRetry, micros(st.RunAt), micros(st.Now), history, st.JobID, st.Token, st.IfExpired)
}

// settleDead moves the job to the dead table (dead.go) with its error.
func settleDead(ctx context.Context, x *xtx, st queue.Settlement) (bool, error) {
	history, err := appendAttemptError(ctx, x, st)
	if err != nil {
		return false, err
	}
	return moveToDead(ctx, x, sqlDeadInsert, st.JobID, micros(st.Now), st.Reason, history, st.Token, st.IfExpired)
}

const (
	// sqlSnooze reschedules without spending the attempt.
	sqlSnooze = `UPDATE spool_jobs SET
  state = CASE WHEN cancel_requested THEN ` + cancelledSQL + ` WHEN ?1 <= ?2 THEN ` + pendingSQL + ` ELSE ` + scheduledSQL + ` END,
  run_at = ?1, finished_at = CASE WHEN cancel_requested THEN ?2 END,
  attempt = max(attempt - 1, 0), lease_until = NULL, lease_token = NULL
  WHERE id = ?3 AND lease_token = ?4 AND state = ` + runningSQL
	// sqlRelease hands an unfinished job back when its worker stops.
	sqlRelease = `UPDATE spool_jobs SET
  state = CASE WHEN cancel_requested THEN ` + cancelledSQL + ` ELSE ` + pendingSQL + ` END,
  run_at = ?1, finished_at = CASE WHEN cancel_requested THEN ?1 END,
  attempt = max(attempt - 1, 0), lease_until = NULL, lease_token = NULL
  WHERE id = ?2 AND lease_token = ?3 AND state = ` + runningSQL
	// sqlCancelRunning ends a job its worker gave up on after a cancel
	// request.
	sqlCancelRunning = `UPDATE spool_jobs SET state = ` + cancelledSQL + `, finished_at = ?, lease_until = NULL, lease_token = NULL
  WHERE id = ? AND lease_token = ? AND state = ` + runningSQL
)
