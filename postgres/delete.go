package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Deleting a job, live or dead, lets its ordering key move on
// (promoteNext, which wakes the key's queue).
const (
	sqlDeleteJob  = `DELETE FROM spool.jobs WHERE id = $1 AND state <> ` + runningSQL + ` RETURNING queue, order_key`
	sqlDeleteDead = `DELETE FROM spool.dead WHERE id = $1 RETURNING queue, order_key`
)

// Delete implements queue.Store. A running job is refused with
// queue.ErrRunning.
func (s *Store) Delete(ctx context.Context, tx *sql.Tx, id int64, now time.Time) error {
	var result error
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		result = nil
		if deleted, err := deleteAndPromote(ctx, x, sqlDeleteJob, id, now); deleted || err != nil {
			return err
		}
		// Not live: maybe dead. Its key is locked before its row goes,
		// as for a live job (lockDeadKeys).
		list, err := deadByID(ctx, x, id)
		if err != nil {
			return err
		}
		if err := lockDeadKeys(ctx, x, list); err != nil {
			return err
		}
		if deleted, err := deleteAndPromote(ctx, x, sqlDeleteDead, id, now); deleted || err != nil {
			return err
		}
		if len(list) == 1 {
			// A RetryDead moved it back to the live table while this
			// waited for its key.
			if deleted, err := deleteAndPromote(ctx, x, sqlDeleteJob, id, now); deleted || err != nil {
				return err
			}
		}
		var code int
		exists, err := sqlstore.Found(x.queryRow(ctx, sqlStateOf, id).Scan(&code))
		if err != nil {
			return err
		}
		result = sqlstore.DeleteRefused(id, exists)
		return nil
	})
	if err != nil {
		return err
	}
	return result
}

// DeleteDead implements queue.Store. A job another transaction deleted
// first is not counted.
func (s *Store) DeleteDead(ctx context.Context, tx *sql.Tx, f queue.DeadFilter, now time.Time) (int, error) {
	var n int
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		n = 0
		list, err := deadMatching(ctx, x, f)
		if err != nil {
			return err
		}
		if err := lockDeadKeys(ctx, x, list); err != nil {
			return err
		}
		for _, d := range list {
			deleted, err := deleteAndPromote(ctx, x, sqlDeleteDead, d.ID, now)
			if err != nil {
				return err
			}
			if deleted {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// deleteAndPromote runs query, sqlDeleteJob or sqlDeleteDead, for the job
// id and makes the next job of its ordering key the head. It reports
// whether it deleted a job. For sqlDeleteDead the caller holds the dead
// job's key lock (lockDeadKeys).
func deleteAndPromote(ctx context.Context, x *xtx, query string, id int64, now time.Time) (bool, error) {
	if query == sqlDeleteJob {
		// A live job's key is locked before its row goes (lockJobKey).
		if err := lockJobKey(ctx, x, id); err != nil {
			return false, err
		}
	}
	var qname string
	var key sql.NullString
	found, err := sqlstore.Found(x.queryRow(ctx, query, id).Scan(&qname, &key))
	if !found || err != nil {
		return false, err
	}
	// A job deleted before it finished fails its waiting children; one
	// that ended had resolved them already.
	if err := endParent(ctx, x, id, sqlstore.DepDeleted, now); err != nil {
		return false, err
	}
	return true, promoteNext(ctx, x, qname, key.String, now)
}
