package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

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

// Under a queue's MaxRunningPerKey, when every ready job is of a saturated
// key, the pool neither spins (it leases again only after a settle, and
// never polls here: PollInterval is an hour) nor stalls (each settle of a
// key's job lets its next one start): every job runs. (That no key runs
// more than the limit is the store's promise, checked by queuetest.)
func TestMaxRunningPerKeyWakesAfterSettle(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	const limit, perKey = 2, 30
	keys := []string{"acme", "bolt"}
	require.NoError(t, h.q.Inspector().SetQueueSettings(h.ctx, "partner", queue.QueueSettings{MaxRunningPerKey: limit}))
	for i := range perKey * len(keys) {
		h.enqueue(queue.NewJob{Kind: "call", Queue: "partner", PartitionKey: keys[i%len(keys)]})
	}
	var leases atomic.Int64
	q, err := queue.New(h.store, queue.Options{Now: h.clock.Now, Observer: &queue.Observer{
		Leased: func(context.Context, queue.LeaseEvent) { leases.Add(1) }}})
	require.NoError(t, err)
	var done atomic.Int64
	all := make(chan struct{})
	p, err := worker.New(q, worker.Options{PollInterval: time.Hour, Queues: map[string]worker.QueueConfig{"partner": {MaxWorkers: 8}}})
	require.NoError(t, err)
	p.HandleFunc("call", func(ctx context.Context, job *queue.Job) error {
		if done.Add(1) == int64(perKey*len(keys)) {
			close(all)
		}
		return nil
	})
	require.NoError(t, p.Start(h.ctx))
	t.Cleanup(func() { p.Stop(context.Background()) })
	recv(t, all)
	require.LessOrEqual(t, leases.Load(), int64(3*perKey*len(keys)), "leases: one or so per settle, no spinning")
	t.Logf("%d leases for %d jobs", leases.Load(), perKey*len(keys))
}
