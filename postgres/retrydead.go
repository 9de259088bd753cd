package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Retrying from the dead table reinserts each job under its own id with its
// attempts reset and its error history kept, oldest first. A job whose
// ordering key has a live job again waits behind it (blocked), decided
// under the key's advisory lock. A job whose unique key a live job holds
// again (sqlUniqueHolder: a replay's newer delivery, a fresh enqueue, or a
// dead job of the same key retried just before it) stays dead and is
// reported with the holder, never skipped silently. The listed jobs' keys
// are locked first, all together and sorted (lockDeadKeys), then each dead
// row before it moves, so that two hosts retrying (or deleting) the same
// jobs move each once, and two lists that share keys never wait on each
// other in a cycle.
const (
	// sqlLockDead locks a dead job's row; no row when another transaction
	// moved or deleted it first.
	sqlLockDead = `SELECT true FROM spool.dead WHERE id = $1 FOR UPDATE`
	// sqlKeyHasHead: must a retried dead job wait? Yes while its key has a
	// live head, or an older dead job that holds the key.
	sqlKeyHasHead = `SELECT ` + keyHasHead + `
  OR EXISTS (SELECT 1 FROM spool.dead WHERE queue = $1 AND order_key = $2 AND blocks_key AND id < $3)`
	// sqlRetryOneDead copies a dead job back; no row when a live job took
	// its unique key in the meantime.
	sqlRetryOneDead = `INSERT INTO spool.jobs
  (id, queue, kind, state, priority, run_at, attempt, max_attempts, timeout_us, created_at,
   unique_key, order_key, partition_key, expires_at, metadata, errors, payload)
  SELECT id, queue, kind, $2, priority, $3, 0, max_attempts, timeout_us, created_at,
   unique_key, order_key, partition_key, NULL, metadata, errors, payload
  FROM spool.dead WHERE id = $1
  ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ` + liveSQL + ` DO NOTHING
  RETURNING id`
	sqlDeleteOneDead = `DELETE FROM spool.dead WHERE id = $1`
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
		if err := lockDeadKeys(ctx, x, list); err != nil {
			return err
		}
		for _, d := range list {
			var locked bool
			switch err := x.queryRow(ctx, sqlLockDead, d.ID).Scan(&locked); {
			case errors.Is(err, sql.ErrNoRows):
				continue // gone: another transaction moved it
			case err != nil:
				return err
			}
			held, err := uniqueHeld(ctx, x, d)
			if err != nil {
				return err
			}
			if held == nil {
				var moved bool
				if moved, err = retryOneDead(ctx, x, d, now); err != nil {
					return err
				}
				if moved {
					res.Retried++
					x.wake(d.Queue)
					continue
				}
				// A live job took the key since uniqueHeld looked.
				if held, err = uniqueHeld(ctx, x, d); err != nil {
					return err
				}
				if held == nil {
					return fmt.Errorf("postgres: retry dead job %d: unique key %q neither free nor held", d.ID, d.UniqueKey.String)
				}
			}
			res.Skipped = append(res.Skipped, *held)
		}
		return nil
	})
	if err != nil {
		return queue.RetryDeadResult{}, err
	}
	return res, nil
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

// retryOneDead moves d back to spool.jobs, pending, or blocked behind the
// head of its ordering key. It reports false, moving nothing, when a live
// job holds d's unique key.
func retryOneDead(ctx context.Context, x *xtx, d sqlstore.DeadRef, now time.Time) (bool, error) {
	state := stPending
	if d.OrderKey.Valid {
		// The caller holds the key's lock (lockDeadKeys).
		var busy bool
		if err := x.queryRow(ctx, sqlKeyHasHead, d.Queue, d.OrderKey.String, d.ID).Scan(&busy); err != nil {
			return false, err
		}
		if busy {
			state = stBlocked
		}
	}
	var id int64
	switch err := x.queryRow(ctx, sqlRetryOneDead, d.ID, state, x.f.us(now)).Scan(&id); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	}
	if _, err := x.exec(ctx, sqlDeleteOneDead, d.ID); err != nil {
		return false, err
	}
	if d.OrderKey.Valid && state != stBlocked {
		if err := setHead(ctx, x, d.Queue, d.OrderKey.String, d.ID); err != nil {
			return false, err
		}
	}
	return true, waitAgain(ctx, x, d.ID)
}

// lockDeadKeys takes the locks of the ordering keys of the dead jobs in
// list, sorted (lockKeysInOrder), before a write locks or deletes their
// rows: key locks come before rows. Taking each job's key after its row,
// one job at a time, two lists whose jobs share two keys in opposite
// orders would deadlock. A dead job's queue and key never change, so the
// list read without row locks names the right keys; a job another
// transaction moved or deleted meanwhile only costs a lock not needed.
func lockDeadKeys(ctx context.Context, x *xtx, list []sqlstore.DeadRef) error {
	keys := make([]queueKey, 0, len(list))
	for _, d := range list {
		if d.OrderKey.Valid {
			keys = append(keys, queueKey{d.Queue, d.OrderKey.String})
		}
	}
	return lockKeysInOrder(ctx, x, keys)
}
