package worker

import (
	"context"
	"database/sql"
	"errors"

	"github.com/spooljobs/spool/queue"
)

type poolKey struct{}

// CompleteTx completes the running job inside tx, the handler's own
// transaction on the store's database (sqlite.Store.DB), so that the
// handler's effect and the job's acknowledgement commit together or not at
// all: a crash before the commit leaves neither, and a redelivery after it
// finds the job gone. This is exactly-once for effects in the same
// database.
//
//	tx, _ := db.BeginTx(ctx, nil)
//	defer tx.Rollback()
//	tx.ExecContext(ctx, `UPDATE stock SET reserved = reserved + ? WHERE sku = ?`, n, sku)
//	if err := worker.CompleteTx(ctx, tx); err != nil {
//		return err // lease lost: roll back, another worker has the job
//	}
//	return tx.Commit()
//
// It fails with queue.ErrLeaseLost when this worker no longer holds the
// job; the handler must then roll back. ctx must be the handler's context.
//
// While the handler's transaction is open it holds SQLite's write lock:
// make every spool write in it through the Tx twins (EnqueueTx, PublishTx).
// A plain Enqueue would wait for the lock the handler itself holds, until
// the busy timeout, and then fail with queue.ErrBusy.
func CompleteTx(ctx context.Context, tx *sql.Tx) error {
	j, ok := queue.JobFromContext(ctx)
	p, _ := ctx.Value(poolKey{}).(*Pool)
	if !ok || p == nil {
		return errors.New("worker: CompleteTx needs the context a handler received")
	}
	if tx == nil {
		return errors.New("worker: CompleteTx: tx is nil")
	}
	s := queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, OrderKey: j.OrderKey,
		Outcome: queue.OutcomeComplete, Now: p.q.Now(), Keep: p.opts.KeepCompleted > 0}
	errs, err := p.store.Settle(ctx, tx, []queue.Settlement{s})
	if err != nil {
		return err
	}
	if errs[0] != nil {
		return errs[0]
	}
	p.mu.Lock()
	if a := p.held(j.ID, j.LeaseToken); a != nil {
		a.completedInTx = true
	}
	p.mu.Unlock()
	return nil
}
