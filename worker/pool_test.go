package worker_test

// A pool's setup: handlers, middleware, wake-ups, and the mistakes Start
// reports.

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

func TestTypedHandlerMiddlewareAndWakeUp(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	type receipt struct {
		OrderID int `json:"order_id"`
	}
	got := make(chan receipt, 1)
	var order []string
	var mu sync.Mutex
	trace := func(name string) worker.Middleware {
		return func(next worker.Handler) worker.Handler {
			return worker.HandlerFunc(func(ctx context.Context, j *queue.Job) error {
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
				return next.Work(ctx, j)
			})
		}
	}
	h.pool(worker.Options{}, func(p *worker.Pool) {
		p.Use(trace("outer"), trace("inner"))
		p.Handle("email.receipt", worker.JSON(func(ctx context.Context, j *queue.Job, r receipt) error {
			fromCtx, ok := worker.JobFromContext(ctx)
			require.True(t, ok)
			require.Equal(t, j.ID, fromCtx.ID)
			got <- r
			return nil
		}))
	})
	// The pool polls hourly: only the in-process wake-up can start this job.
	id := h.enqueue(queue.NewJob{Kind: "email.receipt", Args: receipt{OrderID: 42}})
	require.Equal(t, 42, recv(t, got).OrderID)
	h.waitState(id, queue.StateCompleted)
	mu.Lock()
	require.Equal(t, []string{"outer", "inner"}, order)
	mu.Unlock()
}

func TestRegistrationAndOptionErrors(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	p, err := worker.New(h.q, worker.Options{})
	require.NoError(t, err)
	noop := worker.HandlerFunc(func(context.Context, *queue.Job) error { return nil })
	p.Handle("a", noop)
	p.Handle("a", noop)
	p.Handle("bad kind", noop)
	p.Handle("b", nil)
	err = p.Start(h.ctx)
	require.Error(t, err)
	for _, want := range []string{`Handle("a"): kind registered twice`, `"bad kind"`, `Handle("b"): nil handler`} {
		require.Contains(t, err.Error(), want)
	}

	for _, o := range []worker.Options{
		{LeaseDuration: time.Millisecond},
		{LeaseDuration: 10 * time.Second, HeartbeatInterval: 10 * time.Second},
		{PollInterval: -1},
		{Queues: map[string]worker.QueueConfig{"bad queue": {}}},
		{Queues: map[string]worker.QueueConfig{"q": {MaxWorkers: -1}}},
		{KeepCompleted: -time.Second},
	} {
		_, err := worker.New(h.q, o)
		require.Error(t, err, "options %+v", o)
		require.True(t, strings.HasPrefix(err.Error(), "worker: "), err.Error())
	}
}
