package worker_test

// What the heartbeat carries to running handlers: operators' cancels and
// lost leases.

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

func TestCancelRunningJob(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	started, causes := make(chan struct{}, 1), make(chan error, 1)
	p := h.pool(worker.Options{}, func(p *worker.Pool) {
		p.HandleFunc("export", func(ctx context.Context, j *queue.Job) error {
			started <- struct{}{}
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return ctx.Err()
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "export"})
	recv(t, started)
	state, err := h.q.Inspector().Cancel(h.ctx, id)
	require.NoError(t, err)
	require.Equal(t, queue.StateRunning, state)
	require.NoError(t, p.Heartbeat(h.ctx)) // what the heartbeat loop does every interval
	require.ErrorIs(t, recv(t, causes), worker.ErrCancelled)
	h.waitState(id, queue.StateCancelled)
}

func TestLostLeaseCancelsHandlerAndDropsItsResult(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	started, causes := make(chan struct{}, 1), make(chan error, 1)
	p := h.pool(worker.Options{Backoff: queue.Constant(time.Hour)}, func(p *worker.Pool) {
		p.HandleFunc("slow", func(ctx context.Context, j *queue.Job) error {
			started <- struct{}{}
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return nil // would complete the job, if its result counted
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "slow"})
	recv(t, started)
	// The process stalls past its lease; another pool rescues the job.
	h.clock.Advance(31 * time.Second)
	rescuer, err := worker.New(h.q, worker.Options{Backoff: queue.Constant(time.Hour)})
	require.NoError(t, err)
	n, err := rescuer.Rescue(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.NoError(t, p.Heartbeat(h.ctx))
	require.ErrorIs(t, recv(t, causes), queue.ErrLeaseLost)
	require.NoError(t, p.Stop(h.ctx))
	j, err := h.q.Inspector().Get(h.ctx, id)
	require.NoError(t, err)
	require.Equal(t, queue.StateScheduled, j.State, "the stale worker's nil did not complete the job")
}

// An operator's cancel reaches a running handler through its context; the
// heartbeat does not write to the job the handler reads (the race detector
// would report it).
func TestCancelReachesHandlerWithoutWritingItsJob(t *testing.T) {
	h := newTestQueue(t)
	started := make(chan struct{})
	p := h.pool(worker.Options{LeaseDuration: time.Hour, HeartbeatInterval: 30 * time.Minute}, func(p *worker.Pool) {
		p.HandleFunc("read", func(ctx context.Context, j *queue.Job) error {
			close(started)
			for !j.CancelRequested { // a handler reading a documented field
				select {
				case <-ctx.Done():
					return ctx.Err()
				default:
				}
				runtime.Gosched()
			}
			return errors.New("saw cancel")
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "read"})
	<-started
	_, err := h.q.Inspector().Cancel(h.ctx, id)
	require.NoError(t, err)
	require.NoError(t, p.Heartbeat(h.ctx))
	h.waitState(id, queue.StateCancelled)
}
