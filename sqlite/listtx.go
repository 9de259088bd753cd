package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

var _ queue.TxLister = (*Store)(nil)

// ListTx implements queue.TxLister: List run inside tx, which sees the
// jobs tx enqueued and has not committed. tx must be a transaction on the
// store's database (Store.DB), else the error wraps queue.ErrForeignTx.
func (s *Store) ListTx(ctx context.Context, tx *sql.Tx, f queue.ListFilter) ([]*queue.Job, error) {
	if tx == nil {
		return nil, fmt.Errorf("%w: ListTx: tx is nil", queue.ErrInvalidArgument)
	}
	if err := s.checkTx(ctx, tx); err != nil {
		return nil, err
	}
	return sqlstore.List(f, func(dead bool, state, limit int) ([]*queue.Job, error) {
		q, args := listSQL.Query(dead, f, state, limit)
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, mapErr(err)
		}
		jobs, err := collect(rows, func(r scanner) (*queue.Job, error) { return scanJob(r, dead) })
		return jobs, mapErr(err)
	})
}
