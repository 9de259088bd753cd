package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

const (
	sqlCancelWaiting = `UPDATE spool.jobs SET state = ` + cancelledSQL + `, finished_at = $1 WHERE id = $2 AND state IN ` + waitingSQL + `
  RETURNING queue, order_key`
	sqlRequestCancel = `UPDATE spool.jobs SET cancel_requested = true WHERE id = $1 AND state = ` + runningSQL
	sqlStateOf       = `SELECT state FROM spool.jobs WHERE id = $1`
	sqlIsDead        = `SELECT true FROM spool.dead WHERE id = $1`
)

// Cancel implements queue.Store. A waiting job ends cancelled at once and
// its ordering key moves on; a running one is marked, and its worker,
// told when it next extends its lease, settles it cancelled. Any other job
// is refused.
func (s *Store) Cancel(ctx context.Context, tx *sql.Tx, id int64, now time.Time) (queue.State, error) {
	return s.cancel(ctx, tx, id, now, false)
}

// CancelWaiting implements queue.Store: Cancel for a job that has not
// started only; a running job is refused, not asked to stop.
func (s *Store) CancelWaiting(ctx context.Context, tx *sql.Tx, id int64, now time.Time) error {
	_, err := s.cancel(ctx, tx, id, now, true)
	return err
}

// cancel is Cancel, or with waitingOnly CancelWaiting.
func (s *Store) cancel(ctx context.Context, tx *sql.Tx, id int64, now time.Time, waitingOnly bool) (queue.State, error) {
	var (
		state  queue.State
		result error
	)
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		state, result = "", nil
		var err error
		if state, err = cancelWaiting(ctx, x, id, now); err != nil || state != "" {
			return err
		}
		if !waitingOnly {
			if state, err = requestCancel(ctx, x, id); err != nil || state != "" {
				return err
			}
		}
		if state, err = stateOf(ctx, x, id); err != nil {
			return err
		}
		result = sqlstore.CancelRefused(id, state)
		return nil
	})
	if err != nil {
		return "", err
	}
	return state, result
}

// cancelWaiting cancels job id if it has not started, and lets its key
// move on (promoteNext wakes the queue). The key is locked before the
// job's row changes (lockJobKey). It returns queue.StateCancelled,
// or "" when the job is not waiting.
func cancelWaiting(ctx context.Context, x *xtx, id int64, now time.Time) (queue.State, error) {
	if err := lockJobKey(ctx, x, id); err != nil {
		return "", err
	}
	var qname string
	var key sql.NullString
	found, err := sqlstore.Found(x.queryRow(ctx, sqlCancelWaiting, x.f.us(now), id).Scan(&qname, &key))
	if !found || err != nil {
		return "", err
	}
	if err := endParent(ctx, x, id, sqlstore.DepCancelled, now); err != nil {
		return "", err
	}
	return queue.StateCancelled, promoteNext(ctx, x, qname, key.String, now)
}

// requestCancel marks job id for cancellation if it is running. It
// returns queue.StateRunning, or "" when the job is not running.
func requestCancel(ctx context.Context, x *xtx, id int64) (queue.State, error) {
	r, err := x.exec(ctx, sqlRequestCancel, id)
	if err != nil {
		return "", err
	}
	if n, _ := r.RowsAffected(); n == 1 {
		return queue.StateRunning, nil
	}
	return "", nil
}
