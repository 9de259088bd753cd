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

	// Past the child's leases (30s on its own clock, from when it leased
	// or last extended them), its slots are free: a pool here runs the
	// seven jobs left, then the killed child's three after rescue.
	pastChildLeases(clock)
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
	// The pool's own rescuer may have rescued them first (it runs at start).
	require.LessOrEqual(t, rescued, limitMax, "the killed child's jobs")
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

// pastChildLeases moves clock past every lease a killed child took or
// extended (30s from then, on its own clock): 31s past the real time now.
// (Advancing the clock, which started before the child, by 31s is not
// enough on a loaded machine, where a child may take seconds to start.)
func pastChildLeases(clock *queuetest.Clock) {
	clock.Advance(max(time.Now().Add(31*time.Second).Sub(clock.Now()), 31*time.Second))
}

// TestMaxRunningPerKeyAfterSIGKILL is TestMaxRunningAfterSIGKILL for a
// queue's MaxRunningPerKey: a process holding every slot of two keys is
// killed; the keys' slots stay taken while its leases hold (jobs without a
// key still run), come back when they expire, and another process then
// runs every job, never more than the limit of a key at once. On SQLite
// and on PostgreSQL.
func TestMaxRunningPerKeyAfterSIGKILL(t *testing.T) {
	t.Parallel()
	onBothBackends(t, "keylimits.db", testMaxRunningPerKeyAfterSIGKILL)
}

func testMaxRunningPerKeyAfterSIGKILL(t *testing.T, db crashDB) {
	const perKey = 5
	keys := []string{"acme", "bolt"}
	ctx := t.Context()
	clock := queuetest.NewClock(time.Now())
	store := db.MustOpen(t, openOpts{})
	q, err := queue.New(store, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	require.NoError(t, q.Inspector().SetQueueSettings(ctx, limitQueue, queue.QueueSettings{MaxRunningPerKey: 2}))
	for i := range perKey * len(keys) {
		_, err := q.Enqueue(ctx, queue.NewJob{Kind: limitKind, Queue: limitQueue, PartitionKey: keys[i%len(keys)]})
		require.NoError(t, err)
	}

	// The child has room for eight but each key's limit gives it two.
	c := childtest.Start(t, "limitholder", db.Env()...)
	held := map[int64]string{}
	for range 2 * len(keys) {
		line := c.Line(30 * time.Second)
		f := strings.Fields(line)
		require.True(t, len(f) == 3 && f[0] == "started", "child said %q", line)
		id, err := strconv.ParseInt(f[1], 10, 64)
		require.NoError(t, err)
		held[id] = f[2]
	}
	require.Len(t, held, 2*len(keys))
	lease := func() queue.LeaseResult {
		now := clock.Now()
		res, err := store.Lease(ctx, queue.LeaseParams{Queue: limitQueue, Limit: 100, Now: now, Until: now.Add(time.Minute), Worker: "probe"})
		require.NoError(t, err)
		return res
	}
	res := lease()
	require.Empty(t, res.Jobs, "the live child holds every key's slots")
	require.True(t, res.Limited)

	db.Kill(t, c)
	_, err = q.Enqueue(ctx, queue.NewJob{Kind: limitKind, Queue: limitQueue})
	require.NoError(t, err)
	res = lease()
	require.Len(t, res.Jobs, 1, "a killed process's slots stay taken while its leases hold; a job without a key runs")
	require.Empty(t, res.Jobs[0].PartitionKey)
	require.True(t, res.Limited)
	now := clock.Now()
	_, err = store.Settle(ctx, nil, []queue.Settlement{{JobID: res.Jobs[0].ID, Token: res.Jobs[0].LeaseToken, Queue: limitQueue,
		Kind: limitKind, Outcome: queue.OutcomeComplete, Now: now}})
	require.NoError(t, err)

	// Past the child's leases, the keys' slots are free: a pool here runs
	// the six jobs left, then the killed child's four after rescue.
	pastChildLeases(clock)
	var mu sync.Mutex
	running, peak := map[string]int{}, map[string]int{}
	ran := map[int64]bool{}
	six, all := make(chan struct{}), make(chan struct{})
	pool, err := worker.New(q, worker.Options{
		Queues:       map[string]worker.QueueConfig{limitQueue: {MaxWorkers: 8}},
		PollInterval: 5 * time.Millisecond,
		Monotonic:    clock.Monotonic,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	require.NoError(t, err)
	pool.HandleFunc(limitKind, func(ctx context.Context, job *queue.Job) error {
		mu.Lock()
		defer mu.Unlock()
		running[job.PartitionKey]++
		peak[job.PartitionKey] = max(peak[job.PartitionKey], running[job.PartitionKey])
		defer func() { running[job.PartitionKey]-- }()
		if ran[job.ID] {
			return nil
		}
		ran[job.ID] = true
		switch len(ran) {
		case perKey*len(keys) - len(held):
			close(six)
		case perKey * len(keys):
			close(all)
		}
		return nil
	})
	require.NoError(t, pool.Start(ctx))
	defer pool.Stop(context.WithoutCancel(ctx))
	rescued, err := pool.Rescue(ctx)
	require.NoError(t, err)
	// The pool's own rescuer may have rescued them first (it runs at start).
	require.LessOrEqual(t, rescued, len(held), "the killed child's jobs")
	await := func(ch chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("only %d of %d jobs ran", len(ran), perKey*len(keys))
		}
	}
	await(six)
	clock.Advance(time.Minute) // the rescued jobs' first retry backoff
	await(all)
	mu.Lock()
	defer mu.Unlock()
	for _, k := range keys {
		require.LessOrEqual(t, peak[k], 2, "jobs of key %s running at once", k)
	}
	for id := range held {
		require.True(t, ran[id], "the killed child's job %d ran again", id)
	}
}

// limitHolderChild runs a pool of eight on the limited queue whose
// handlers say "started <id>" (with the job's partition key after it, if
// any) and hold their job until the process dies.
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
		childtest.Say(strings.TrimSpace(fmt.Sprintf("started %d %s", job.ID, job.PartitionKey)))
		<-ctx.Done()
		return ctx.Err()
	})
	if err := pool.Start(ctx); err != nil {
		return err
	}
	return childtest.AwaitClose()
}
