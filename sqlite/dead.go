package sqlite

import (
	"context"
	"encoding/json"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// A job dies by moving from spool_jobs to spool_dead under its own id, with
// the time, the reason and its error history.

// deadInsertFrom copies a job into spool_dead: ?1 is the time it died, ?2
// the reason, ?3 its new error history (NULL keeps the column), ?4 its id.
// The statements below finish its WHERE clause with the state (and lease)
// the job must still be in.
const deadInsertFrom = `INSERT INTO spool_dead
  (id, queue, kind, priority, attempt, max_attempts, timeout_us, created_at, run_at, attempted_at,
   died_at, reason, unique_key, order_key, partition_key, blocks_key, expires_at, metadata, errors, payload)
  SELECT id, queue, kind, priority, attempt, max_attempts, timeout_us, created_at, run_at, attempted_at,
   ?1, ?2, unique_key, order_key, partition_key, ` + deadBlocksKey + `, expires_at, metadata,
   coalesce(?3, errors), payload
  FROM spool_jobs WHERE id = ?4`

const (
	// sqlDeadInsert moves a running job whose lease (token ?5) still
	// holds; with ?6 set, only once the lease has expired.
	sqlDeadInsert = deadInsertFrom + ` AND lease_token = ?5 AND state = ` + runningSQL + ` AND (?6 = 0 OR lease_until < ?1)`
	// sqlDeadInsertWaiting moves a job not yet started.
	sqlDeadInsertWaiting = deadInsertFrom + ` AND state IN ` + waitingSQL
	sqlDeadDelete        = `DELETE FROM spool_jobs WHERE id = ?`
)

// moveToDead runs insert, one of the statements above, with args (?1 to
// ?3, then the rest after the id) for the job id, and deletes the job from
// spool_jobs once it was copied. It reports whether it moved the job: not
// when the job was no longer in the state insert requires.
func moveToDead(ctx context.Context, x *xtx, insert string, id int64, diedAt int64, reason string, history any, more ...any) (bool, error) {
	args := append([]any{diedAt, reason, history, id}, more...)
	r, err := x.exec(ctx, insert, args...)
	if err != nil {
		return false, err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return false, nil
	}
	_, err = x.exec(ctx, sqlDeadDelete, id)
	return err == nil, err
}

// sqlDeadMatching selects the dead jobs a queue.DeadFilter names, oldest
// first: ?1 a JSON array of ids (NULL: any), ?2 a queue and ?3 a kind
// (”: any).
const sqlDeadMatching = `SELECT id, queue, order_key, unique_key FROM spool_dead
  WHERE (?1 IS NULL OR id IN (SELECT value FROM json_each(?1)))
    AND (?2 = '' OR queue = ?2) AND (?3 = '' OR kind = ?3)
  ORDER BY id`

// deadMatching returns the dead jobs f names, oldest first.
func deadMatching(ctx context.Context, x *xtx, f queue.DeadFilter) ([]sqlstore.DeadRef, error) {
	var ids any
	if len(f.IDs) > 0 {
		b, _ := json.Marshal(f.IDs)
		ids = string(b)
	}
	rows, err := x.query(ctx, sqlDeadMatching, ids, f.Queue, f.Kind)
	if err != nil {
		return nil, err
	}
	return collect(rows, sqlstore.ScanDeadRef)
}
