package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/spooljobs/spool/queue"
)

const (
	sqlGetJob  = `SELECT ` + jobColumns + ` FROM spool_jobs WHERE id = ?`
	sqlGetDead = `SELECT ` + deadColumns + ` FROM spool_dead WHERE id = ?`
)

// Get implements queue.Store.
func (s *Store) Get(ctx context.Context, id int64) (*queue.Job, error) {
	j, err := scanJob(s.readDB.QueryRowContext(ctx, sqlGetJob, id), false)
	if errors.Is(err, sql.ErrNoRows) {
		j, err = scanJob(s.readDB.QueryRowContext(ctx, sqlGetDead, id), true)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("job %d: %w", id, queue.ErrNotFound)
	}
	if err != nil {
		return nil, mapErr(err)
	}
	return s.withOutput(ctx, j)
}
