package postgres

import (
	"context"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// A job dies by moving from spool.jobs to spool.dead under its own id, with
// the time, the reason and its error history: one statement, a DELETE whose
// RETURNING feeds the INSERT.

// deadMoveFrom moves a job: $1 is the time it died, $2 the reason, $3 its
// new error history (NULL keeps the column), $4 its id. The statements
// below finish the DELETE's WHERE clause with the state (and lease) the
// job must still be in.
const deadMoveFrom = `WITH j AS (DELETE FROM spool.jobs j WHERE j.id = $4 %s
  RETURNING j.id, j.queue, j.kind, j.priority, j.attempt, j.max_attempts, j.timeout_us, j.created_at, j.run_at,
    j.attempted_at, j.unique_key, j.order_key, j.partition_key, ` + deadBlocksKey + ` AS blocks_key, j.expires_at, j.metadata,
    coalesce($3::text, j.errors) AS errors, j.payload)
INSERT INTO spool.dead
  (id, queue, kind, priority, attempt, max_attempts, timeout_us, created_at, run_at, attempted_at,
   died_at, reason, unique_key, order_key, partition_key, blocks_key, expires_at, metadata, errors, payload)
SELECT id, queue, kind, priority, attempt, max_attempts, timeout_us, created_at, run_at, attempted_at,
   $1, $2, unique_key, order_key, partition_key, blocks_key, expires_at, metadata, errors, payload FROM j`

var (
	// sqlDeadMove moves a running job whose lease (token $5) still holds;
	// with $6 set, only once the lease has expired.
	sqlDeadMove = sprintf(deadMoveFrom, `AND j.lease_token = $5 AND j.state = `+runningSQL+` AND (NOT $6 OR j.lease_until < $1)`)
	// sqlDeadMoveWaiting moves a job not yet started.
	sqlDeadMoveWaiting = sprintf(deadMoveFrom, `AND j.state IN `+waitingSQL)
)

// moveToDead runs move, one of the statements above, for the job id with
// args $1 to $3 and then more. It reports whether it moved the job: not
// when the job was no longer in the state move requires.
func moveToDead(ctx context.Context, x *xtx, move string, id int64, diedAt int64, reason string, history any, more ...any) (bool, error) {
	args := append([]any{diedAt, reason, history, id}, more...)
	r, err := x.exec(ctx, move, args...)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// sqlDeadMatching selects the dead jobs a queue.DeadFilter names, oldest
// first: $1 an array of ids (NULL: any), $2 a queue and $3 a kind (”:
// any).
const sqlDeadMatching = `SELECT id, queue, order_key, unique_key FROM spool.dead
  WHERE ($1::bigint[] IS NULL OR id = ANY($1))
    AND ($2 = '' OR queue = $2) AND ($3 = '' OR kind = $3)
  ORDER BY id`

// deadMatching returns the dead jobs f names, oldest first.
func deadMatching(ctx context.Context, x *xtx, f queue.DeadFilter) ([]sqlstore.DeadRef, error) {
	var ids any
	if len(f.IDs) > 0 {
		ids = f.IDs
	}
	rows, err := x.query(ctx, sqlDeadMatching, ids, f.Queue, f.Kind)
	if err != nil {
		return nil, err
	}
	return collect(rows, sqlstore.ScanDeadRef)
}

// sqlDeadRef reads one dead job as sqlDeadMatching does.
const sqlDeadRef = `SELECT id, queue, order_key, unique_key FROM spool.dead WHERE id = $1`

// deadByID returns dead job id as a list of one, empty when it is not dead.
func deadByID(ctx context.Context, x *xtx, id int64) ([]sqlstore.DeadRef, error) {
	rows, err := x.query(ctx, sqlDeadRef, id)
	if err != nil {
		return nil, err
	}
	return collect(rows, sqlstore.ScanDeadRef)
}
