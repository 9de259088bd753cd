package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Running a scheduled job now: it becomes pending with its run time now,
// its attempts as they were.
const sqlRunNow = `UPDATE spool_jobs SET state = ` + pendingSQL + `, run_at = ?
  WHERE id = ? AND state = ` + scheduledSQL + ` RETURNING queue`

// RunNow implements queue.Store.
func (s *Store) RunNow(ctx context.Context, tx *sql.Tx, id int64, now time.Time) error {
	var name string
	var refused error
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		refused = nil
		found, err := sqlstore.Found(x.queryRow(ctx, sqlRunNow, micros(now), id).Scan(&name))
		if err != nil || found {
			return err
		}
		state, err := stateOf(ctx, x, id)
		refused = sqlstore.RunNowRefused(id, state)
		return err
	})
	if err != nil {
		return err
	}
	if refused != nil {
		return refused
	}
	s.wakeAfter(tx, name)
	return nil
}

// stateOf is the state of job id, live or dead; "" when there is none.
func stateOf(ctx context.Context, x *xtx, id int64) (queue.State, error) {
	var code int64
	found, err := sqlstore.Found(x.queryRow(ctx, sqlStateOf, id).Scan(&code))
	if err != nil || found {
		state, _ := sqlstore.StateName(code)
		return state, err
	}
	var one int
	found, err = sqlstore.Found(x.queryRow(ctx, sqlIsDead, id).Scan(&one))
	if found {
		return queue.StateDead, err
	}
	return "", err
}
