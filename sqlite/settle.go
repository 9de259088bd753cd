package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Every statement here names the job by id and the lease token, and requires
// state running: a worker that lost its lease changes nothing.
const (
	sqlCompleteKeep = `UPDATE spool_jobs SET state = ` + completedSQL + `, finished_at = ?, lease_until = NULL, lease_token = NULL
  WHERE id = ? AND lease_token = ? AND state = ` + runningSQL
	// sqlRetry records the failed attempt and schedules the next one; a job
	// an operator cancelled while it ran ends cancelled instead.
	sqlRetry = `UPDATE spool_jobs SET
  state = CASE WHEN cancel_requested THEN ` + cancelledSQL + ` WHEN ?1 <= ?2 THEN ` + pendingSQL + ` ELSE ` + scheduledSQL + ` END,
  run_at = ?1, finished_at = CASE WHEN cancel_requested THEN ?2 END,
  lease_until = NULL, lease_token = NULL,
  errors = coalesce(?3, errors)
  WHERE id = ?4 AND lease_token = ?5 AND state = ` + runningSQL + ` AND (?6 = 0 OR lease_until < ?2)`
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
	sqlCancelRunning = `UPDATE spool_jobs SET state = ` + cancelledSQL + `, finished_at = ?, lease_until = NULL, lease_token = NULL
  WHERE id = ? AND lease_token = ? AND state = ` + runningSQL
	sqlDeadInsert = `INSERT INTO spool_dead
  (id, queue, kind, priority, attempt, max_attempts, timeout_us, created_at, run_at, attempted_at,
   died_at, reason, unique_key, order_key, blocks_key, expires_at, metadata, errors, payload)
  SELECT id, queue, kind, priority, attempt, max_attempts, timeout_us, created_at, run_at, attempted_at,
   ?1, ?2, unique_key, order_key, ` + deadBlocksKey + `, expires_at, metadata,
   coalesce(?3, errors), payload
  FROM spool_jobs WHERE id = ?4 AND lease_token = ?5 AND state = ` + runningSQL + ` AND (?6 = 0 OR lease_until < ?1)`
	sqlDeadDelete = `DELETE FROM spool_jobs WHERE id = ?`
	sqlMetrics    = `INSERT INTO spool_metrics (minute, queue, completed, failed, dead) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (minute, queue) DO UPDATE SET completed = completed + excluded.completed,
  failed = failed + excluded.failed, dead = dead + excluded.dead`
	sqlExtend = `UPDATE spool_jobs SET lease_until = ? WHERE id = ? AND lease_token = ? AND state = ` + runningSQL + `
  RETURNING cancel_requested`
	sqlExpired = `SELECT ` + jobColumns + ` FROM spool_jobs WHERE state = ` + runningSQL + ` AND lease_until < ? ORDER BY lease_until LIMIT ?`
)

// Completions that delete their job are settled settleChunk at a time, one
// statement per lease token: a lease hands all its jobs one token, so a
// settle batch holds few. RETURNING names the jobs whose lease still held;
// a short chunk repeats its last id, which IN ignores.
const settleChunk = 64

var (
	sqlCompleteDeleteChunk = `DELETE FROM spool_jobs WHERE lease_token = ? AND state = ` + runningSQL + `
  AND id IN (` + strings.TrimSuffix(strings.Repeat("?, ", settleChunk), ", ") + `)`
	sqlCompleteDeleteChunkReturning = sqlCompleteDeleteChunk + ` RETURNING id`
)

const (
	sqlCompleteDelete    = `DELETE FROM spool_jobs WHERE id = ? AND lease_token = ? AND state = ` + runningSQL
	sqlSavepoint         = `SAVEPOINT spool_settle`
	sqlReleaseSavepoint  = `RELEASE spool_settle`
	sqlRollbackSavepoint = `ROLLBACK TO spool_settle`
)

type metricKey struct {
	minute int64
	queue  string
}

type metricCounts struct{ completed, failed, dead int }

// Settle implements queue.Store.
func (s *Store) Settle(ctx context.Context, tx *sql.Tx, settlements []queue.Settlement) ([]error, error) {
	errs := make([]error, len(settlements))
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		metrics := map[metricKey]*metricCounts{}
		count := func(st queue.Settlement) *metricCounts {
			k := metricKey{st.Now.Truncate(time.Minute).Unix(), st.Queue}
			c := metrics[k]
			if c == nil {
				c = &metricCounts{}
				metrics[k] = c
			}
			return c
		}
		done, err := completeDeleteBatched(ctx, x, settlements, errs)
		if err != nil {
			return err
		}
		for i, st := range settlements {
			if done[i] {
				if errs[i] == nil {
					if err := promoteNext(ctx, x, st.Queue, st.OrderKey, st.Now); err != nil {
						return err
					}
					count(st).completed++
				}
				continue
			}
			errs[i] = nil
			now := micros(st.Now)
			var (
				r   sql.Result
				err error
			)
			switch st.Outcome {
			case queue.OutcomeComplete:
				if st.Keep {
					r, err = x.exec(ctx, sqlCompleteKeep, now, st.JobID, st.Token)
				} else {
					// Not batched: the job has another settlement in this call.
					r, err = x.exec(ctx, sqlCompleteDelete, st.JobID, st.Token)
				}
			case queue.OutcomeRetry:
				var history any
				if history, err = appendAttemptError(ctx, x, st); err == nil {
					r, err = x.exec(ctx, sqlRetry, micros(st.RunAt), now, history, st.JobID, st.Token, st.IfExpired)
				}
			case queue.OutcomeSnooze:
				r, err = x.exec(ctx, sqlSnooze, micros(st.RunAt), now, st.JobID, st.Token)
			case queue.OutcomeRelease:
				r, err = x.exec(ctx, sqlRelease, micros(st.RunAt), st.JobID, st.Token)
			case queue.OutcomeCancel:
				r, err = x.exec(ctx, sqlCancelRunning, now, st.JobID, st.Token)
			case queue.OutcomeDead:
				var history any
				if history, err = appendAttemptError(ctx, x, st); err == nil {
					r, err = x.exec(ctx, sqlDeadInsert, now, st.Reason, history, st.JobID, st.Token, st.IfExpired)
				}
				if err == nil {
					if n, _ := r.RowsAffected(); n == 1 {
						_, err = x.exec(ctx, sqlDeadDelete, st.JobID)
					}
				}
			default:
				return fmt.Errorf("sqlite: settle job %d: unknown outcome %v", st.JobID, st.Outcome)
			}
			if err != nil {
				return err
			}
			if n, _ := r.RowsAffected(); n == 0 {
				errs[i] = fmt.Errorf("settle job %d (%s): %w", st.JobID, st.Outcome, queue.ErrLeaseLost)
				continue
			}
			switch st.Outcome {
			case queue.OutcomeComplete, queue.OutcomeCancel, queue.OutcomeDead,
				queue.OutcomeRetry, queue.OutcomeSnooze, queue.OutcomeRelease:
				// The job left the live set, or (a retry, snooze or release of
				// a job an operator cancelled meanwhile) may have: its key may
				// move on. While the job is still the head this does nothing.
				if err := promoteNext(ctx, x, st.Queue, st.OrderKey, st.Now); err != nil {
					return err
				}
			}
			switch st.Outcome {
			case queue.OutcomeComplete:
				count(st).completed++
			case queue.OutcomeRetry:
				count(st).failed++
			case queue.OutcomeDead:
				c := count(st)
				c.dead++
				if st.Error != nil {
					c.failed++
				}
			}
		}
		for k, c := range metrics {
			if _, err := x.exec(ctx, sqlMetrics, k.minute, k.queue, c.completed, c.failed, c.dead); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

// sqlSettleErrors reads the error history of a job whose lease still holds.
const sqlSettleErrors = `SELECT errors FROM spool_jobs WHERE id = ? AND lease_token = ? AND state = ` + runningSQL

// appendAttemptError returns the errors column of st's job with st.Error
// added by queue.AppendAttemptError, which bounds the history; nil (keep
// the column) when st has no error or its lease is lost, where the
// settle's own statement then changes nothing.
func appendAttemptError(ctx context.Context, x *xtx, st queue.Settlement) (any, error) {
	if st.Error == nil {
		return nil, nil
	}
	var stored sql.NullString
	switch err := x.queryRow(ctx, sqlSettleErrors, st.JobID, st.Token).Scan(&stored); err {
	case nil:
	case sql.ErrNoRows:
		return nil, nil
	default:
		return nil, err
	}
	var (
		kept    []queue.AttemptError
		dropped int
	)
	if stored.Valid && stored.String != "" {
		var err error
		if kept, dropped, err = decodeErrors(stored.String); err != nil {
			return nil, fmt.Errorf("sqlite: job %d: errors: %w", st.JobID, err)
		}
	}
	kept, dropped = queue.AppendAttemptError(kept, dropped, *st.Error)
	enc, err := encodeErrors(kept, dropped)
	if err != nil {
		return nil, fmt.Errorf("sqlite: job %d: errors: %w", st.JobID, err)
	}
	return enc, nil
}

// completeDeleteBatched settles the completions that delete their job,
// grouped by lease token, settleChunk per statement. It marks in done the
// settlements it handled and sets errs for those whose lease was lost.
// A job that also has another kind of settlement in the call is left to
// the caller's in-order loop, so that the first of its settlements wins.
func completeDeleteBatched(ctx context.Context, x *xtx, settlements []queue.Settlement, errs []error) ([]bool, error) {
	done := make([]bool, len(settlements))
	batchable := func(st queue.Settlement) bool { return st.Outcome == queue.OutcomeComplete && !st.Keep }
	var inOrder map[int64]bool
	for _, st := range settlements {
		if !batchable(st) {
			if inOrder == nil {
				inOrder = map[int64]bool{}
			}
			inOrder[st.JobID] = true
		}
	}
	args := make([]any, 0, 1+settleChunk)
	held := make(map[int64]bool, settleChunk)
	for i, st := range settlements {
		if done[i] || !batchable(st) || inOrder[st.JobID] {
			continue
		}
		// Gather up to settleChunk completions under st's token.
		var group []int
		for k := i; k < len(settlements) && len(group) < settleChunk; k++ {
			o := settlements[k]
			if !done[k] && batchable(o) && !inOrder[o.JobID] && o.Token == st.Token {
				group = append(group, k)
			}
		}
		args = append(args[:0], st.Token)
		for _, k := range group {
			args = append(args, settlements[k].JobID)
		}
		for len(args) < 1+settleChunk {
			args = append(args, settlements[group[len(group)-1]].JobID)
		}
		clear(held)
		all, err := deleteIfAllHeld(ctx, x, args, len(group))
		if err != nil {
			return nil, err
		}
		if all {
			for _, k := range group {
				done[k] = true
				errs[k] = nil
			}
			continue
		}
		rows, err := x.query(ctx, sqlCompleteDeleteChunkReturning, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			held[id] = true
		}
		if err := endRows(rows); err != nil {
			return nil, err
		}
		for _, k := range group {
			done[k] = true
			errs[k] = nil
			// A job settled twice in one batch was deleted once: the
			// first settlement takes it.
			if id := settlements[k].JobID; held[id] {
				delete(held, id)
			} else {
				errs[k] = fmt.Errorf("settle job %d (%s): %w", settlements[k].JobID, queue.OutcomeComplete, queue.ErrLeaseLost)
			}
		}
	}
	return done, nil
}

// deleteIfAllHeld runs sqlCompleteDeleteChunk and keeps its work only when
// it deleted all want jobs: the common case, where every lease still
// holds, needs no RETURNING. Otherwise it undoes the delete, so the caller
// can find out which leases were lost.
func deleteIfAllHeld(ctx context.Context, x *xtx, args []any, want int) (bool, error) {
	if _, err := x.exec(ctx, sqlSavepoint); err != nil {
		return false, err
	}
	r, err := x.exec(ctx, sqlCompleteDeleteChunk, args...)
	if err == nil {
		if n, _ := r.RowsAffected(); int(n) == want {
			_, err = x.exec(ctx, sqlReleaseSavepoint)
			return err == nil, err
		}
	}
	// Undo even when ctx has ended: in a caller's transaction the
	// savepoint must not stay open.
	cleanup := context.WithoutCancel(ctx)
	if _, rerr := x.exec(cleanup, sqlRollbackSavepoint); rerr != nil && err == nil {
		err = rerr
	}
	if _, rerr := x.exec(cleanup, sqlReleaseSavepoint); rerr != nil && err == nil {
		err = rerr
	}
	return false, err
}

// Extend implements queue.Store.
func (s *Store) Extend(ctx context.Context, leases []queue.LeaseRef, until time.Time) (queue.ExtendResult, error) {
	var res queue.ExtendResult
	err := s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		res = queue.ExtendResult{}
		for _, l := range leases {
			var cancel bool
			switch err := x.queryRow(ctx, sqlExtend, micros(until), l.JobID, l.Token).Scan(&cancel); err {
			case nil:
				if cancel {
					res.CancelRequested = append(res.CancelRequested, l.JobID)
				}
			case sql.ErrNoRows:
				res.Lost = append(res.Lost, l.JobID)
			default:
				return err
			}
		}
		return nil
	})
	return res, err
}

// Expired implements queue.Store.
func (s *Store) Expired(ctx context.Context, now time.Time, limit int) ([]*queue.Job, error) {
	return s.queryJobs(ctx, false, sqlExpired, micros(now), limit)
}

func (s *Store) queryJobs(ctx context.Context, dead bool, query string, args ...any) ([]*queue.Job, error) {
	rows, err := s.readDB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*queue.Job
	for rows.Next() {
		j, err := scanJob(rows, dead)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, mapErr(rows.Err())
}
