package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/childtest"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/queuetest"
	"github.com/spooljobs/spool/worker"
)

const (
	limitQueue = "partner"
	limitKind  = "partner.call"
	limitMax   = 3
	limitJobs  = 10
)

// TestMaxRunningAfterSIGKILL: a process holding every slot of a queue's
// MaxRunning is killed with SIGKILL. Its slots stay taken while its leases
// hold (another process leases nothing), come back when they expire, and
// another process then runs every job, never more than the limit at once.
// It runs on SQLite and on PostgreSQL.
func TestMaxRunningAfterSIGKILL(t *testing.T) {
	t.Parallel()
	onBothBackends(t, "limits.db", testMaxRunningAfterSIGKILL)
}

func testMaxRunningAfterSIGKILL(t *testing.T, db crashDB) {
	ctx := t.Context()
	clock := queuetest.NewClock(time.Now())
	store := db.MustOpen(t, openOpts{})
	q, err := queue.New(store, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	require.NoError(t, q.Inspector().SetQueueSettings(ctx, limitQueue, queue.QueueSettings{MaxRunning: limitMax}))
	for range limitJobs {
		_, err := q.Enqueue(ctx, queue.NewJob{Kind: limitKind, Queue: limitQueue})
		require.NoError(t, err)
	}

	// The child has room for eight but the limit gives it three; it holds
	// them until killed.
	c := childtest.Start(t, "limitholder", db.Env()...)
	held := map[string]bool{}
	for range limitMax {
		line := c.Line(30 * time.Second)
		require.True(t, strings.HasPrefix(line, "started "), "child said %q", line)
		held[strings.TrimPrefix(line, "started ")] = true
	}
	require.Len(t, held, limitMax)
	lease := func() queue.LeaseResult {
		now := clock.Now()
		res, err := store.Lease(ctx, queue.LeaseParams{Queue: limitQueue, Limit: limitJobs, Now: now, Until: now.Add(time.Minute), Worker: "probe"})
		require.NoError(t, err)
		return res
	}
	res := lease()
	require.Empty(t, res.Jobs, "the live child holds every slot")
	require.True(t, res.Limited)

	db.Kill(t, c)
	res = lease()
	require.Empty(t, res.Jobs, "a killed process's slots stay taken while its leases hold")
	st, err := q.Inspector().Stats(ctx)
	require.NoError(t, err)
	for _, qs := range st.Queues {
		if qs.Name == limitQueue {
			require.Equal(t, limitMax, qs.Running)
			require.Equal(t, limitJobs-limitMax, qs.Pending)
		}
	}

	// Past the child's leases (30s), its slots are free: a pool here runs
	// the seven jobs left, then the killed child's three after rescue.
	clock.Advance(31 * time.Second)
	var running, peak atomic.Int64
	var mu sync.Mutex
	ran := map[int64]bool{}
	seven, all := make(chan struct{}), make(chan struct{})
	pool, err := worker.New(q, worker.Options{
		Queues:       map[string]worker.QueueConfig{limitQueue: {MaxWorkers: 8}},
		PollInterval: 5 * time.Millisecond,
		Monotonic:    clock.Monotonic,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	require.NoError(t, err)
	pool.HandleFunc(limitKind, func(ctx context.Context, job *queue.Job) error {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		mu.Lock()
		defer mu.Unlock()
		if ran[job.ID] {
			return nil
		}
		ran[job.ID] = true
		switch len(ran) {
		case limitJobs - limitMax:
			close(seven)
		case limitJobs:
			close(all)
		}
		return nil
	})
	require.NoError(t, pool.Start(ctx))
	defer pool.Stop(context.WithoutCancel(ctx))
	rescued, err := pool.Rescue(ctx)
	require.NoError(t, err)
	require.Equal(t, limitMax, rescued, "the killed child's jobs")
	await := func(ch chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("only %d of %d jobs ran", len(ran), limitJobs)
		}
	}
	await(seven)
	// The rescued jobs wait out their first retry's backoff (seconds).
	clock.Advance(time.Minute)
	await(all)
	require.LessOrEqual(t, peak.Load(), int64(limitMax), "jobs running at once")
	for id := range held {
		n, err := strconv.ParseInt(id, 10, 64)
		require.NoError(t, err)
		mu.Lock()
		require.True(t, ran[n], "the killed child's job %d ran again", n)
		mu.Unlock()
	}
}

// limitHolderChild runs a pool of eight on the limited queue whose
// handlers say "started <id>" and hold their job until the process dies.
func limitHolderChild() error {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := crashDBFromEnv().Open(ctx, openOpts{Logger: logger})
	if err != nil {
		return err
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{Logger: logger})
	if err != nil {
		return err
	}
	pool, err := worker.New(q, worker.Options{
		Queues:       map[string]worker.QueueConfig{limitQueue: {MaxWorkers: 8}},
		PollInterval: 5 * time.Millisecond,
		Logger:       logger,
	})
	if err != nil {
		return err
	}
	pool.HandleFunc(limitKind, func(ctx context.Context, job *queue.Job) error {
		childtest.Say(fmt.Sprintf("started %d", job.ID))
		<-ctx.Done()
		return ctx.Err()
	})
	if err := pool.Start(ctx); err != nil {
		return err
	}
	return childtest.AwaitClose()
}
