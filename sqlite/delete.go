package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Deleting a job, live or dead, lets its ordering key move on. A tracked
// live job's rows go with it (a dead job's go by spool_dead's triggers).
const (
	sqlDeleteJob  = `DELETE FROM spool_jobs WHERE id = ? AND state <> ` + runningSQL + ` RETURNING queue, order_key, tracked`
	sqlDeleteDead = `DELETE FROM spool_dead WHERE id = ? RETURNING queue, order_key, 0`
)

// Delete implements queue.Store.
func (s *Store) Delete(ctx context.Context, tx *sql.Tx, id int64, now time.Time) error {
	var result error
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		result = nil
		for _, q := range []string{sqlDeleteJob, sqlDeleteDead} {
			if deleted, err := deleteAndPromote(ctx, x, q, id, now); deleted || err != nil {
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
	if result == nil {
		s.wakeAfter(tx, "") // a freed ordering key may have a ready job
	}
	return result
}

// DeleteDead implements queue.Store.
func (s *Store) DeleteDead(ctx context.Context, tx *sql.Tx, f queue.DeadFilter, now time.Time) (int, error) {
	var n int
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		n = 0
		list, err := deadMatching(ctx, x, f)
		if err != nil {
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
	if err == nil && n > 0 {
		s.wakeAfter(tx, "") // freed ordering keys may have ready jobs
	}
	return n, err
}

// deleteAndPromote runs query, sqlDeleteJob or sqlDeleteDead, for the job
// id and makes the next job of its ordering key the head. It reports
// whether it deleted a job.
func deleteAndPromote(ctx context.Context, x *xtx, query string, id int64, now time.Time) (bool, error) {
	var qname string
	var key sql.NullString
	var tracked bool
	found, err := sqlstore.Found(x.queryRow(ctx, query, id).Scan(&qname, &key, &tracked))
	if !found || err != nil {
		return false, err
	}
	if tracked {
		if err := dropTracked(ctx, x, []int64{id}); err != nil {
			return false, err
		}
	}
	// A job deleted before it finished fails its waiting children; one
	// that ended had resolved them already.
	if _, err := endParent(ctx, x, id, sqlstore.DepDeleted, now); err != nil {
		return false, err
	}
	return true, promoteNext(ctx, x, qname, key.String, now)
}
