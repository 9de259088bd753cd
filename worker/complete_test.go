package worker_test

// Pool.CompleteTx: the handler's effect and the acknowledgement commit
// together.

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

// The handler's effect and the acknowledgement commit together: a handler
// that fails after CompleteTx rolls both back, and the retry applies the
// effect once. A nil tx is refused.
func TestCompleteTxAppliesEffectOnce(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	db := h.store.DB()
	_, err := db.Exec(`CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0)`)
	require.NoError(t, err)
	var failed atomic.Bool
	p := h.pool(worker.Options{Backoff: queue.Constant(0)}, func(p *worker.Pool) {
		p.HandleFunc("count", func(ctx context.Context, j *queue.Job) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, `UPDATE counter SET n = n + 1`); err != nil {
				return err
			}
			if err := p.CompleteTx(ctx, tx, j); err != nil {
				return err
			}
			if j.ID == 1 && failed.CompareAndSwap(false, true) {
				return errors.New("crash before commit") // rolls back effect and ack together
			}
			return tx.Commit()
		})
	})
	var ids []int64
	for range 10 {
		ids = append(ids, h.enqueue(queue.NewJob{Kind: "count"}))
	}
	for _, id := range ids {
		h.waitState(id, queue.StateCompleted)
	}
	var n int
	require.NoError(t, db.QueryRow(`SELECT n FROM counter`).Scan(&n))
	require.Equal(t, 10, n, "each job's effect applied exactly once")

	require.ErrorIs(t, p.CompleteTx(h.ctx, nil, &queue.Job{ID: ids[0]}), queue.ErrInvalidArgument, "nil tx")
}

// A handler whose lease was lost (the job was rescued meanwhile) cannot
// complete the job: CompleteTx fails with ErrLeaseLost.
func TestCompleteTxFailsOnceLeaseLost(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	got := make(chan error, 1)
	started, proceed := make(chan struct{}), make(chan struct{})
	h.pool(worker.Options{Backoff: queue.Constant(time.Hour)}, func(p *worker.Pool) {
		p.HandleFunc("slow", func(ctx context.Context, j *queue.Job) error {
			close(started)
			<-proceed
			tx, err := h.store.DB().BeginTx(context.Background(), nil)
			require.NoError(t, err)
			defer tx.Rollback()
			got <- p.CompleteTx(ctx, tx, j)
			return nil
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "slow"})
	<-started
	h.clock.Advance(time.Minute) // the lease runs out and a rescuer takes the job
	rescuer, err := worker.New(h.q, worker.Options{Backoff: queue.Constant(time.Hour)})
	require.NoError(t, err)
	n, err := rescuer.Rescue(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	close(proceed)
	require.ErrorIs(t, recv(t, got), queue.ErrLeaseLost)
	j := h.waitState(id, queue.StateScheduled)
	require.Equal(t, 1, j.Attempt)
}
