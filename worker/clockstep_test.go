package worker_test

// Rescue across steps of the wall clock (see clock.go).

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

// A forward step of the wall clock must not let another pool's rescuer
// take the running jobs of a live pool. Pool A runs 10 jobs
// (handlers blocked), a crashed worker left 3 leased jobs behind, and pool
// B's rescuer sees the wall clock jump 10s without the monotonic clock
// moving. B rescues none of A's jobs, neither at once nor once the pause
// is over (A's heartbeats extended the leases from the new time meanwhile);
// the crashed worker's jobs are rescued when the pause ends.
func TestClockStepDoesNotStealRunningJobs(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	const lease = 10 * time.Second
	t0 := h.clock.Now()

	// The crashed worker's jobs: leased, never extended.
	gone := make([]queue.NewJob, 3)
	for i := range gone {
		gone[i] = queue.NewJob{Kind: "block", Queue: "gone"}
	}
	_, err := h.q.EnqueueMany(h.ctx, gone)
	require.NoError(t, err)
	res, err := h.store.Lease(h.ctx, queue.LeaseParams{Queue: "gone", Limit: 3, Now: t0, Until: t0.Add(lease), Worker: "crashed-pool"})
	require.NoError(t, err)
	require.Len(t, res.Jobs, 3)

	release := make(chan struct{})
	started := make(chan int64, 10)
	a := h.pool(worker.Options{
		Queues:              map[string]worker.QueueConfig{queue.DefaultQueue: {MaxWorkers: 10}},
		LeaseDuration:       lease,
		HeartbeatInterval:   lease - time.Second, // the test calls Heartbeat itself
		MaintenanceInterval: time.Hour,
		Monotonic:           h.clock.Monotonic,
		Name:                "pool-a",
	}, func(p *worker.Pool) {
		p.HandleFunc("block", func(ctx context.Context, j *queue.Job) error {
			started <- j.ID
			<-release
			return nil
		})
	})
	t.Cleanup(func() { close(release) })
	for range 10 {
		h.enqueue(queue.NewJob{Kind: "block"})
	}
	for range 10 {
		recv(t, started)
	}

	sink := &logSink{}
	b, err := worker.New(h.q, worker.Options{LeaseDuration: lease, Monotonic: h.clock.Monotonic, Name: "pool-b", Logger: slog.New(sink)})
	require.NoError(t, err)
	rescue := func() int {
		t.Helper()
		n, err := b.Rescue(h.ctx)
		require.NoError(t, err)
		return n
	}
	require.Zero(t, rescue())
	h.clock.Advance(5 * time.Second)
	require.NoError(t, a.Heartbeat(h.ctx))
	require.Zero(t, rescue())
	h.clock.Advance(2 * time.Second)
	require.Zero(t, rescue())

	// The step: 10s on the wall clock, none on the monotonic one. Every
	// lease now looks expired.
	h.clock.Set(h.clock.Now().Add(10 * time.Second))
	expired, err := h.store.Expired(h.ctx, h.clock.Now(), 100)
	require.NoError(t, err)
	require.Len(t, expired, 13, "the step makes every lease look expired")
	require.Zero(t, rescue(), "rescued jobs right after a wall-clock step")
	require.Equal(t, 1, sink.count("wall clock jumped forward by 10s; rescue paused until"))

	// A keeps heartbeating; the pause lasts a LeaseDuration of monotonic time.
	total := 0
	for mono := 10 * time.Second; mono <= 16*time.Second; mono += 3 * time.Second {
		h.clock.Advance(3 * time.Second)
		require.NoError(t, a.Heartbeat(h.ctx))
		total += rescue()
	}
	require.Zero(t, total, "rescued jobs during the pause")
	h.clock.Advance(3 * time.Second) // 12s of monotonic time since the step
	require.NoError(t, a.Heartbeat(h.ctx))
	require.Equal(t, 3, rescue(), "the crashed worker's jobs are rescued once the pause is over")
	h.clock.Advance(3 * time.Second)
	require.NoError(t, a.Heartbeat(h.ctx))
	require.Zero(t, rescue())
	require.Equal(t, 1, sink.count("jumped forward"), "one warning per step")

	for _, j := range res.Jobs {
		got, err := h.q.Inspector().Get(h.ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, queue.StateScheduled, got.State, "job %d of the crashed worker: retried after its backoff", j.ID)
		require.Len(t, got.Errors, 1)
		require.Contains(t, got.Errors[0].Message, "crashed-pool stopped heartbeating")
	}
	running, err := h.q.Inspector().List(h.ctx, queue.ListFilter{State: queue.StateRunning})
	require.NoError(t, err)
	require.Len(t, running, 10)
	for _, j := range running {
		require.Equal(t, "pool-a", j.LeasedBy)
	}
}

// A backward step makes leases look longer: rescue is not paused, and
// leases that expire by the stepped-back clock are rescued.
func TestClockStepBackDoesNotPauseRescue(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	sink := &logSink{}
	b, err := worker.New(h.q, worker.Options{LeaseDuration: 10 * time.Second, Monotonic: h.clock.Monotonic, Logger: slog.New(sink)})
	require.NoError(t, err)
	h.enqueue(queue.NewJob{Kind: "k"})
	t0 := h.clock.Now()
	_, err = h.store.Lease(h.ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 1, Now: t0, Until: t0.Add(10 * time.Second), Worker: "crashed"})
	require.NoError(t, err)
	n, err := b.Rescue(h.ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	h.clock.Advance(30 * time.Second)
	h.clock.Set(h.clock.Now().Add(-5 * time.Second))
	n, err = b.Rescue(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "a backward step does not pause rescue")
	require.Equal(t, 1, sink.count("wall clock stepped back by 5s"))
}

// The rescuer's first run compares with the pool's Start: a step between
// the two is noticed too.
func TestClockStepBeforeFirstRescue(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	h.enqueue(queue.NewJob{Kind: "k", Queue: "other"})
	t0 := h.clock.Now()
	_, err := h.store.Lease(h.ctx, queue.LeaseParams{Queue: "other", Limit: 1, Now: t0, Until: t0.Add(10 * time.Second), Worker: "live-elsewhere"})
	require.NoError(t, err)
	p := h.pool(worker.Options{LeaseDuration: 10 * time.Second, MaintenanceInterval: time.Hour, Monotonic: h.clock.Monotonic}, func(p *worker.Pool) {})
	h.clock.Set(t0.Add(20 * time.Second))
	n, err := p.Rescue(h.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "rescued right after a step that came before the first rescue")
	h.clock.Advance(11 * time.Second)
	n, err = p.Rescue(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the lease was not extended during the pause: its owner is gone")
}
