package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// TxLister is implemented by a store that lists jobs as a caller's open
// transaction sees them, with the jobs that transaction enqueued and has
// not committed yet. Both of spool's stores implement it.
type TxLister interface {
	// ListTx is Store.List run inside tx, which must belong to the
	// store's database (else ErrForeignTx).
	ListTx(ctx context.Context, tx *sql.Tx, f ListFilter) ([]*Job, error)
}

// ListTx returns jobs matching f, newest first, as tx, the app's open
// transaction, sees them: with the jobs it enqueued (EnqueueTx, PublishTx)
// before it commits. Tests use it to check what a transaction enqueued
// (package spooltest). A store that does not implement TxLister is
// refused with an error wrapping errors.ErrUnsupported.
func (in *Inspector) ListTx(ctx context.Context, tx *sql.Tx, f ListFilter) ([]*Job, error) {
	if err := requireTx(tx, "ListTx", "List"); err != nil {
		return nil, err
	}
	l, ok := in.q.store.(TxLister)
	if !ok {
		return nil, fmt.Errorf("queue: ListTx: the store (%T) does not list inside a transaction: %w", in.q.store, errors.ErrUnsupported)
	}
	f, err := validListFilter(f)
	if err != nil {
		return nil, err
	}
	return l.ListTx(ctx, tx, f)
}
