package worker_test

// The settler: outcomes reach the store however it fails, and only the
// attempt that holds the lease settles it.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

// A handler succeeds on its last attempt while the store refuses its
// settlement five times (SQLite busy, say): the pool keeps trying, the job
// completes, and it is never rescued as a failure.
func TestSettleRetriesUntilStoreTakesOutcome(t *testing.T) {
	hs, q, clock := newHookQueue(t)
	var fails atomic.Int32
	hs.settle = func(_ context.Context, tx *sql.Tx, s []queue.Settlement) (bool, []error, error) {
		if tx == nil && s[0].Outcome == queue.OutcomeComplete && fails.Add(1) <= 5 {
			return true, nil, queue.ErrBusy
		}
		return false, nil, nil
	}
	p, err := worker.New(q, worker.Options{PollInterval: time.Hour, LeaseDuration: time.Hour, MaintenanceInterval: time.Hour})
	require.NoError(t, err)
	done := make(chan struct{})
	p.HandleFunc("ok", func(ctx context.Context, j *queue.Job) error { close(done); return nil })
	require.NoError(t, p.Start(context.Background()))
	defer p.Stop(context.Background())
	r, err := q.Enqueue(context.Background(), queue.NewJob{Kind: "ok", MaxAttempts: 1})
	require.NoError(t, err)
	<-done
	require.Eventually(t, func() bool {
		_, err := q.Inspector().Get(context.Background(), r.ID)
		return errors.Is(err, queue.ErrNotFound)
	}, 30*time.Second, 10*time.Millisecond, "the completion is settled once the store takes it")
	require.Greater(t, fails.Load(), int32(5))
	clock.Advance(2 * time.Hour)
	n, err := p.Rescue(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	dead, err := q.Inspector().List(context.Background(), queue.ListFilter{State: queue.StateDead})
	require.NoError(t, err)
	require.Empty(t, dead)
}

// After a batch failed with ErrCorrupt, the outcomes are settled one by
// one; one that then fails for a passing reason (busy) is tried again, as
// the batch would be, rather than dropped (the succeeded job would stay
// leased and run again).
func TestSettleOneByOneAfterCorruptionRetriesBusy(t *testing.T) {
	t.Parallel()
	hs, q, _ := newHookQueue(t)
	var calls atomic.Int32
	hs.settle = func(ctx context.Context, tx *sql.Tx, s []queue.Settlement) (bool, []error, error) {
		switch calls.Add(1) {
		case 1:
			return true, nil, fmt.Errorf("damaged page: %w", queue.ErrCorrupt)
		case 2:
			return true, nil, fmt.Errorf("locked: %w", queue.ErrBusy)
		}
		return false, nil, nil
	}
	p, err := worker.New(q, worker.Options{KeepCompleted: time.Hour, PollInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	p.HandleFunc("ok", func(context.Context, *queue.Job) error { return nil })
	ctx := context.Background()
	require.NoError(t, p.Start(ctx))
	t.Cleanup(func() { p.Stop(context.Background()) })
	res, err := q.Enqueue(ctx, queue.NewJob{Kind: "ok"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		j, err := q.Inspector().Get(ctx, res.ID)
		return err == nil && j.State == queue.StateCompleted
	}, 10*time.Second, 5*time.Millisecond, "the job's completion was settled")
	require.GreaterOrEqual(t, calls.Load(), int32(3))
}

// A hung attempt's job is rescued and leased again by the same pool; the
// hung attempt's late settlement (lease lost) must not drop the new
// attempt, whose lease the heartbeat goes on extending.
func TestLateSettleOfOldAttemptKeepsNewLease(t *testing.T) {
	h := newTestQueue(t)
	sink := &logSink{}
	release1, release2 := make(chan struct{}), make(chan struct{})
	started := make(chan int, 2)
	p := h.pool(worker.Options{
		Queues:              map[string]worker.QueueConfig{queue.DefaultQueue: {MaxWorkers: 2}},
		LeaseDuration:       2 * time.Hour,
		HeartbeatInterval:   time.Hour,
		MaintenanceInterval: time.Hour,
		JobTimeout:          20 * time.Millisecond,
		Backoff:             func(int) time.Duration { return 0 },
		Logger:              slog.New(sink),
	}, func(p *worker.Pool) {
		p.HandleFunc("hang", func(ctx context.Context, j *queue.Job) error {
			started <- j.Attempt
			if j.Attempt == 1 {
				<-release1 // ignores its context: hung
			} else {
				<-release2
			}
			return nil
		})
	})
	defer close(release2)
	id := h.enqueue(queue.NewJob{Kind: "hang"})
	require.Equal(t, 1, <-started)

	// Past timeout+LeaseDuration: heartbeat lets the lease go, rescue retries.
	h.clock.Advance(3 * time.Hour)
	require.NoError(t, p.Heartbeat(h.ctx))
	n, err := p.Rescue(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	h.q.Store().(queue.Notifier).Notify(queue.DefaultQueue)
	require.Equal(t, 2, <-started) // attempt 2 runs in the same pool

	close(release1) // the hung attempt 1 finally returns; its settle is lease-lost
	require.Eventually(t, func() bool { return sink.has("lost lease before settling") }, 5*time.Second, time.Millisecond)

	// Attempt 2 is still running: a heartbeat must extend its lease.
	h.clock.Advance(30 * time.Minute)
	require.NoError(t, p.Heartbeat(h.ctx))
	j, err := h.q.Inspector().Get(h.ctx, id)
	require.NoError(t, err)
	require.Equal(t, queue.StateRunning, j.State)
	require.True(t, j.LeaseUntil.Equal(h.clock.Now().Add(2*time.Hour)),
		"running attempt 2's lease was not extended: lease_until %s, now %s", j.LeaseUntil, h.clock.Now())
}
