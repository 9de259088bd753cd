package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/spooljobs/spool/queue"
)

const (
	sqlGetJob  = `SELECT ` + jobColumns + ` FROM spool.jobs WHERE id = $1`
	sqlGetDead = `SELECT ` + deadColumns + ` FROM spool.dead WHERE id = $1`
)

// Get implements queue.Store: the job from spool.jobs, else from
// spool.dead, else queue.ErrNotFound naming the id.
func (s *Store) Get(ctx context.Context, id int64) (*queue.Job, error) {
	f := s.clock.frame()
	j, err := f.scanJob(s.db.QueryRowContext(ctx, s.sql(sqlGetJob), id), false)
	if errors.Is(err, sql.ErrNoRows) {
		j, err = f.scanJob(s.db.QueryRowContext(ctx, s.sql(sqlGetDead), id), true)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("job %d: %w", id, queue.ErrNotFound)
	}
	if err != nil {
		return nil, mapErr(err)
	}
	return s.withOutput(ctx, f, j)
}
