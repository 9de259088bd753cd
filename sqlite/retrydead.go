package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Retrying from the dead table reinserts each job under its own id with its
// attempts reset and its error history kept, oldest first. A job whose
// ordering key has a live job again waits behind it (blocked). A job whose
// unique key a live job holds again (sqlUniqueHolder: a replay's newer
// delivery, a fresh enqueue, or a dead job of the same key retried just
// before it) stays dead and is reported with the holder, never skipped
// silently.
const (
	// sqlKeyHasHead: must a retried dead job wait? Yes while its key has a
	// live head, or an older dead job that holds the key.
	sqlKeyHasHead = `SELECT ` + keyHasHead12 + `
  OR EXISTS (SELECT 1 FROM spool_dead WHERE queue = ?1 AND order_key = ?2 AND blocks_key AND id < ?3)`
	sqlRetryOneDead = `INSERT INTO spool_jobs
  (id, queue, kind, state, priority, run_at, attempt, max_attempts, timeout_us, created_at,
   unique_key, order_key, partition_key, expires_at, metadata, errors, payload, tracked)
  SELECT id, queue, kind, ?2, priority, ?3, 0, max_attempts, timeout_us, created_at,
   unique_key, order_key, partition_key, NULL, metadata, errors, payload, ` + trackedSQL + `
  FROM spool_dead WHERE id = ?1`
	sqlDeleteOneDead = `DELETE FROM spool_dead WHERE id = ?`
)

// RetryDead implements queue.Store.
func (s *Store) RetryDead(ctx context.Context, tx *sql.Tx, f queue.DeadFilter, now time.Time) (queue.RetryDeadResult, error) {
	var res queue.RetryDeadResult
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		res = queue.RetryDeadResult{}
		list, err := deadMatching(ctx, x, f)
		if err != nil {
			return err
		}
		for _, d := range list {
			held, err := uniqueHeld(ctx, x, d)
			if err != nil {
				return err
			}
			if held != nil {
				res.Skipped = append(res.Skipped, *held)
				continue
			}
			if err := retryOneDead(ctx, x, d, now); err != nil {
				return err
			}
			res.Retried++
		}
		return nil
	})
	if err == nil && res.Retried > 0 {
		s.wakeAfter(tx, "")
	}
	return res, err
}

// uniqueHeld returns, when a live job holds d's unique key, the error
// that reports d skipped; nil when d has no unique key or it is free.
func uniqueHeld(ctx context.Context, x *xtx, d sqlstore.DeadRef) (*queue.KeyHeldError, error) {
	if !d.UniqueKey.Valid {
		return nil, nil
	}
	var holder int64
	held, err := sqlstore.Found(x.queryRow(ctx, sqlUniqueHolder, d.UniqueKey.String).Scan(&holder))
	if !held || err != nil {
		return nil, err
	}
	return &queue.KeyHeldError{JobID: d.ID, Key: d.UniqueKey.String, HolderID: holder}, nil
}

// retryOneDead moves d back to spool_jobs, pending, or blocked behind the
// head of its ordering key.
func retryOneDead(ctx context.Context, x *xtx, d sqlstore.DeadRef, now time.Time) error {
	state := stPending
	if d.OrderKey.Valid {
		var busy bool
		if err := x.queryRow(ctx, sqlKeyHasHead, d.Queue, d.OrderKey.String, d.ID).Scan(&busy); err != nil {
			return err
		}
		if busy {
			state = stBlocked
		}
	}
	if _, err := x.exec(ctx, sqlRetryOneDead, d.ID, state, micros(now)); err != nil {
		return err
	}
	if d.OrderKey.Valid && state != stBlocked {
		if err := setHead(ctx, x, d.Queue, d.OrderKey.String, d.ID); err != nil {
			return err
		}
	}
	if _, err := x.exec(ctx, sqlDeleteOneDead, d.ID); err != nil {
		return err
	}
	_, err := x.exec(ctx, sqlDepsWaitAgain, d.ID)
	return err
}
