package worker_test

// Leasing, seen from outside the pool: per-queue concurrency and rate
// limits. fetch_internal_test.go steps the fetcher itself.

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

func TestPerQueueConcurrency(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	var running, peak atomic.Int32
	started, release := make(chan struct{}, 10), make(chan struct{})
	h.pool(worker.Options{Queues: map[string]worker.QueueConfig{"pdf": {MaxWorkers: 2}, "mail": {MaxWorkers: 5}}}, func(p *worker.Pool) {
		p.HandleFunc("render", func(ctx context.Context, j *queue.Job) error {
			n := running.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			started <- struct{}{}
			<-release
			running.Add(-1)
			return nil
		})
	})
	var ids []int64
	for range 6 {
		ids = append(ids, h.enqueue(queue.NewJob{Kind: "render", Queue: "pdf"}))
	}
	recv(t, started)
	recv(t, started)
	st, err := h.q.Inspector().Stats(h.ctx)
	require.NoError(t, err)
	require.Len(t, st.Queues, 2, "pdf, and mail: idle, but the pool works it")
	pdf := st.Queues[slices.IndexFunc(st.Queues, func(q queue.QueueStats) bool { return q.Name == "pdf" })]
	require.Equal(t, 2, pdf.Running, "only MaxWorkers jobs are leased")
	require.Equal(t, 4, pdf.Pending)
	close(release)
	for _, id := range ids {
		h.waitState(id, queue.StateCompleted)
	}
	require.Equal(t, int32(2), peak.Load())
}

func TestRateLimitCapsJobStarts(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	ran := make(chan int64, 10)
	h.pool(worker.Options{Queues: map[string]worker.QueueConfig{"partner": {MaxWorkers: 10, RateLimit: 1, Burst: 2}}}, func(p *worker.Pool) {
		p.HandleFunc("call", func(ctx context.Context, j *queue.Job) error { ran <- j.ID; return nil })
	})
	for range 5 {
		h.enqueue(queue.NewJob{Kind: "call", Queue: "partner"})
	}
	recv(t, ran)
	recv(t, ran) // the burst
	pending := func() int {
		st, err := h.q.Inspector().Stats(h.ctx)
		require.NoError(t, err)
		if len(st.Queues) == 0 {
			return 0
		}
		return st.Queues[0].Pending
	}
	require.Eventually(t, func() bool { return pending() == 3 }, 5*time.Second, time.Millisecond)
	h.q.Store().(queue.Notifier).Notify("partner") // a wake-up alone brings no token
	require.Equal(t, 3, pending())
	for left := 2; left >= 0; left-- {
		h.clock.Advance(time.Second)
		h.q.Store().(queue.Notifier).Notify("partner")
		recv(t, ran)
		require.Eventually(t, func() bool { return pending() == left }, 5*time.Second, time.Millisecond)
	}
	select {
	case id := <-ran:
		t.Fatalf("job %d ran beyond the rate", id)
	default:
	}
}
