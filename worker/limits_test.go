package worker_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

// Under a queue's MaxRunning, a job's slot frees only when its settle
// commits, after its worker finished: the pool looks again after each
// settle, not at the next poll (an hour here). The pool never runs more
// than the limit, and runs every job.
func TestMaxRunningWakesAfterSettle(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	const limit, jobs = 3, 60
	require.NoError(t, h.q.Inspector().SetQueueSettings(h.ctx, "partner", queue.QueueSettings{MaxRunning: limit}))
	for range jobs {
		h.enqueue(queue.NewJob{Kind: "call", Queue: "partner"})
	}
	var running, peak, done atomic.Int64
	all := make(chan struct{})
	h.pool(worker.Options{Queues: map[string]worker.QueueConfig{"partner": {MaxWorkers: 8}}}, func(p *worker.Pool) {
		p.HandleFunc("call", func(ctx context.Context, job *queue.Job) error {
			n := running.Add(1)
			defer running.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			if done.Add(1) == jobs {
				close(all)
			}
			return nil
		})
	})
	recv(t, all)
	require.LessOrEqual(t, peak.Load(), int64(limit))
}
