package worker

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/spooljobs/spool/queue"
)

// CompleteTx completes job, which a handler of this pool is running,
// inside tx, the handler's own transaction on the store's database
// (sqlite.Store.DB), so that the handler's effect and the job's
// acknowledgement commit together or not at all: a crash before the
// commit leaves neither, and a redelivery after it finds the job gone.
// This is exactly-once for effects in the same database.
//
//	pool.HandleFunc("stock.reserve", func(ctx context.Context, job *queue.Job) error {
//		tx, err := db.BeginTx(ctx, nil)
//		if err != nil {
//			return err
//		}
//		defer tx.Rollback()
//		tx.ExecContext(ctx, `UPDATE stock SET reserved = reserved + 1 WHERE sku = ?`, sku)
//		if err := pool.CompleteTx(ctx, tx, job); err != nil {
//			return err // lease lost: roll back, another worker has the job
//		}
//		return tx.Commit()
//	})
//
// job is the job the handler received and ctx the handler's context. It
// fails with queue.ErrLeaseLost when this worker no longer holds the job;
// the handler must then roll back. A nil tx or job is an error wrapping
// queue.ErrInvalidArgument.
//
// While the handler's transaction is open it holds SQLite's write lock:
// make every spool write in it through the Tx twins (EnqueueTx, PublishTx).
// A plain Enqueue would wait for the lock the handler itself holds, until
// the busy timeout, and then fail with queue.ErrBusy.
func (p *Pool) CompleteTx(ctx context.Context, tx *sql.Tx, job *queue.Job) error {
	switch {
	case tx == nil:
		return fmt.Errorf("%w: CompleteTx: tx is nil", queue.ErrInvalidArgument)
	case job == nil:
		return fmt.Errorf("%w: CompleteTx: job is nil", queue.ErrInvalidArgument)
	}
	s := queue.Settlement{JobID: job.ID, Token: job.LeaseToken, Queue: job.Queue, Kind: job.Kind, Wait: job.Waited(), OrderKey: job.OrderKey,
		Outcome: queue.OutcomeComplete, Now: p.q.Now(), Keep: p.keepCompleted(job.Queue, job.Kind)}
	if att, err := attemptFrom(ctx, "CompleteTx"); err == nil && att.jobID == job.ID && att.token == job.LeaseToken {
		// The output recorded so far commits with the job.
		att.mu.Lock()
		att.fill(&s)
		att.mu.Unlock()
	}
	errs, err := p.store.Settle(ctx, tx, []queue.Settlement{s})
	if err != nil {
		return err
	}
	if errs[0] != nil {
		return errs[0]
	}
	p.mu.Lock()
	if a := p.held(job.ID, job.LeaseToken); a != nil {
		a.completedInTx = true
	}
	p.mu.Unlock()
	return nil
}
