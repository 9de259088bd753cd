package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

var _ queue.TxLister = (*Store)(nil)

// ListTx implements queue.TxLister: List run inside tx, which sees the
// jobs tx enqueued and has not committed. It runs in a savepoint, as the
// store's writes in a caller's transaction do, so that a failure leaves tx
// usable; a transaction on another database is refused with
// queue.ErrForeignTx.
func (s *Store) ListTx(ctx context.Context, tx *sql.Tx, f queue.ListFilter) ([]*queue.Job, error) {
	if tx == nil {
		return nil, fmt.Errorf("%w: ListTx: tx is nil", queue.ErrInvalidArgument)
	}
	var jobs []*queue.Job
	err := s.writeIn(ctx, tx, func(ctx context.Context, x *xtx) error {
		var err error
		jobs, err = sqlstore.List(f, func(dead bool, state, limit int) ([]*queue.Job, error) {
			q, args := listSQL.Query(dead, f, state, limit)
			rows, err := x.query(ctx, q, args...)
			if err != nil {
				return nil, err
			}
			return collect(rows, func(r scanner) (*queue.Job, error) { return x.f.scanJob(r, dead) })
		})
		return err
	})
	return jobs, err
}
