package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

// lease leases one ready job of queue "default" from h's store.
func (h *harness) leaseOne() *queue.Job {
	h.t.Helper()
	now := h.clock.Now()
	res, err := h.store.Lease(h.ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "test"})
	require.NoError(h.t, err)
	require.Len(h.t, res.Jobs, 1)
	return res.Jobs[0]
}

func TestRunJobRunsThroughMiddlewareAndSettles(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	p, err := worker.New(h.q, worker.Options{Backoff: queue.Constant(time.Hour)})
	require.NoError(t, err)
	var trail []string
	p.Use(func(next worker.Handler) worker.Handler {
		return worker.HandlerFunc(func(ctx context.Context, j *queue.Job) error {
			trail = append(trail, "mw")
			return next.Work(ctx, j)
		})
	})
	p.HandleFunc("flaky", func(ctx context.Context, j *queue.Job) error {
		inCtx, _ := queue.JobFromContext(ctx)
		require.Same(t, j, inCtx)
		trail = append(trail, "handler")
		if j.Attempt == 1 {
			return errors.New("partner returned 503")
		}
		return nil
	})
	id := h.enqueue(queue.NewJob{Kind: "flaky"})

	res, err := p.RunJob(h.ctx, h.leaseOne())
	require.NoError(t, err)
	require.Equal(t, queue.OutcomeRetry, res.Settlement.Outcome)
	require.EqualError(t, res.Err, "partner returned 503")
	require.Equal(t, h.clock.Now().Add(time.Hour), res.Settlement.RunAt)
	j := h.waitState(id, queue.StateScheduled)
	require.Equal(t, "partner returned 503", j.LastError().Message)

	h.clock.Advance(time.Hour)
	res, err = p.RunJob(h.ctx, h.leaseOne())
	require.NoError(t, err)
	require.Equal(t, queue.OutcomeComplete, res.Settlement.Outcome)
	require.NoError(t, res.Err)
	_, err = h.q.Inspector().Get(h.ctx, id)
	require.ErrorIs(t, err, queue.ErrNotFound)
	require.Equal(t, []string{"mw", "handler", "mw", "handler"}, trail)
}

func TestRunJobCompletedInTx(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	p, err := worker.New(h.q, worker.Options{})
	require.NoError(t, err)
	p.HandleFunc("tx", func(ctx context.Context, j *queue.Job) error {
		tx, err := h.store.DB().BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := p.CompleteTx(ctx, tx, j); err != nil {
			return err
		}
		return tx.Commit()
	})
	h.enqueue(queue.NewJob{Kind: "tx"})
	res, err := p.RunJob(h.ctx, h.leaseOne())
	require.NoError(t, err)
	require.True(t, res.CompletedInTx)
	require.Equal(t, queue.OutcomeComplete, res.Settlement.Outcome)
}

func TestRunJobRefusesStartedPoolAndRegistrationMistakes(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	bad, err := worker.New(h.q, worker.Options{})
	require.NoError(t, err)
	bad.Handle("nil.handler", nil)
	h.enqueue(queue.NewJob{Kind: "x"})
	j := h.leaseOne()
	_, err = bad.RunJob(h.ctx, j)
	require.ErrorContains(t, err, "nil handler")

	started := h.pool(worker.Options{Queues: map[string]worker.QueueConfig{"other": {}}}, func(p *worker.Pool) {})
	_, err = started.RunJob(h.ctx, j)
	require.ErrorContains(t, err, "started pool")
	require.Equal(t, []string{"other"}, started.Queues())
	require.Same(t, h.q, started.Queue())
}
