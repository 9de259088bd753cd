package worker_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/queuetest"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

type harness struct {
	t     *testing.T
	ctx   context.Context
	store *sqlite.Store
	q     *queue.Queue
	clock *queuetest.Clock
}

// newTestQueue opens a fresh store on a real file with an injected clock.
func newTestQueue(t *testing.T) *harness {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "spool.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	clock := queuetest.NewClock(time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC))
	q, err := queue.New(st, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	return &harness{t: t, ctx: context.Background(), store: st, q: q, clock: clock}
}

// pool starts a pool whose only way to find work is being told (PollInterval
// of an hour): tests never depend on polling.
func (h *harness) pool(opts worker.Options, register func(p *worker.Pool)) *worker.Pool {
	h.t.Helper()
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Hour
	}
	p, err := worker.New(h.q, opts)
	require.NoError(h.t, err)
	register(p)
	require.NoError(h.t, p.Start(h.ctx))
	h.t.Cleanup(func() { p.Stop(context.Background()) })
	return p
}

func (h *harness) enqueue(j queue.NewJob) int64 {
	h.t.Helper()
	r, err := h.q.Enqueue(h.ctx, j)
	require.NoError(h.t, err)
	return r.ID
}

// waitState waits, without sleeping, until job id reaches state: every
// settle the pool makes is followed by the test's own read.
func (h *harness) waitState(id int64, want queue.State) *queue.Job {
	h.t.Helper()
	var j *queue.Job
	require.Eventually(h.t, func() bool {
		var err error
		j, err = h.q.Inspector().Get(h.ctx, id)
		if errors.Is(err, queue.ErrNotFound) && want == queue.StateCompleted {
			j = nil
			return true
		}
		require.NoError(h.t, err)
		return j.State == want
	}, 10*time.Second, time.Millisecond, "job %d never reached %s", id, want)
	return j
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a signal")
		panic("unreachable")
	}
}

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

func TestRetryWithBackoffThenComplete(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	attempts := make(chan int, 10)
	h.pool(worker.Options{Backoff: queue.Constant(time.Hour)}, func(p *worker.Pool) {
		p.HandleFunc("flaky", func(ctx context.Context, j *queue.Job) error {
			attempts <- j.Attempt
			if j.Attempt < 3 {
				return errors.New("partner returned 503")
			}
			return nil
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "flaky"})
	require.Equal(t, 1, recv(t, attempts))
	j := h.waitState(id, queue.StateScheduled)
	require.True(t, j.RunAt.Equal(h.clock.Now().Add(time.Hour)), "retried after the backoff: %s", j.RunAt)
	require.Len(t, j.Errors, 1)
	require.Equal(t, "partner returned 503", j.Errors[0].Message)

	for want := 2; want <= 3; want++ {
		h.clock.Advance(time.Hour)
		h.q.Store().(queue.Notifier).Notify("default")
		require.Equal(t, want, recv(t, attempts))
		if want < 3 {
			j = h.waitState(id, queue.StateScheduled)
			require.Len(t, j.Errors, want, "every attempt's error is kept")
		}
	}
	h.waitState(id, queue.StateCompleted)
}

func TestPermanentAndExhaustedGoDead(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	h.pool(worker.Options{Backoff: queue.Constant(0)}, func(p *worker.Pool) {
		p.HandleFunc("declined", func(ctx context.Context, j *queue.Job) error {
			return queue.Permanent(errors.New("card declined"))
		})
		p.HandleFunc("broken", func(ctx context.Context, j *queue.Job) error {
			return errors.New("always fails")
		})
		p.Handle("typed", worker.JSON(func(ctx context.Context, j *queue.Job, v struct{ N int }) error { return nil }))
	})
	perm := h.enqueue(queue.NewJob{Kind: "declined"})
	exhausted := h.enqueue(queue.NewJob{Kind: "broken", MaxAttempts: 3})
	malformed := h.enqueue(queue.NewJob{Kind: "typed", Payload: []byte(`{"N": "not a number"`)})

	j := h.waitState(perm, queue.StateDead)
	require.Equal(t, 1, j.Attempt)
	require.Contains(t, j.DeadReason, "card declined")
	require.Len(t, j.Errors, 1)

	j = h.waitState(exhausted, queue.StateDead)
	require.Equal(t, 3, j.Attempt)
	require.Contains(t, j.DeadReason, "attempts exhausted (3 of 3)")
	require.Len(t, j.Errors, 3)

	j = h.waitState(malformed, queue.StateDead)
	require.Equal(t, 1, j.Attempt, "a payload that cannot decode is not retried")
	require.Contains(t, j.DeadReason, `kind "typed"`)
	require.Contains(t, j.DeadReason, "does not decode")
}

func TestPanicIsAFailedAttemptWithStack(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	done := make(chan struct{}, 1)
	h.pool(worker.Options{Backoff: queue.Constant(time.Hour), Queues: map[string]worker.QueueConfig{"default": {MaxWorkers: 1}}}, func(p *worker.Pool) {
		p.HandleFunc("explode", func(ctx context.Context, j *queue.Job) error {
			var m map[string]int
			m["boom"] = 1 // nil map write panics
			return nil
		})
		p.HandleFunc("fine", func(ctx context.Context, j *queue.Job) error {
			done <- struct{}{}
			return nil
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "explode"})
	j := h.waitState(id, queue.StateScheduled)
	require.Len(t, j.Errors, 1)
	require.Contains(t, j.Errors[0].Message, "panic: assignment to entry in nil map")
	require.Contains(t, j.Errors[0].Stack, "pool_test.go", "the stack points at the handler")
	// The single worker survived the panic.
	h.enqueue(queue.NewJob{Kind: "fine"})
	recv(t, done)
}

func TestSnoozeDoesNotSpendAnAttempt(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	attempts := make(chan int, 4)
	var calls atomic.Int32
	h.pool(worker.Options{}, func(p *worker.Pool) {
		p.HandleFunc("wait.stock", func(ctx context.Context, j *queue.Job) error {
			attempts <- j.Attempt
			if calls.Add(1) == 1 {
				return queue.Snooze(10 * time.Minute)
			}
			return nil
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "wait.stock", MaxAttempts: 1})
	require.Equal(t, 1, recv(t, attempts))
	j := h.waitState(id, queue.StateScheduled)
	require.Equal(t, 0, j.Attempt)
	require.Empty(t, j.Errors)
	require.True(t, j.RunAt.Equal(h.clock.Now().Add(10*time.Minute)))
	h.clock.Advance(10 * time.Minute)
	h.q.Store().(queue.Notifier).Notify("default")
	require.Equal(t, 1, recv(t, attempts), "still the first attempt of one allowed")
	h.waitState(id, queue.StateCompleted)
}

func TestTimeoutCancelsTheHandler(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	causes := make(chan error, 1)
	h.pool(worker.Options{Backoff: queue.Constant(time.Hour)}, func(p *worker.Pool) {
		p.HandleFunc("slow", func(ctx context.Context, j *queue.Job) error {
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return ctx.Err()
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "slow", Timeout: 20 * time.Millisecond})
	require.ErrorIs(t, recv(t, causes), worker.ErrTimeout)
	j := h.waitState(id, queue.StateScheduled)
	require.Contains(t, j.Errors[0].Message, "timed out after 20ms")
}

func TestUnknownKindRunsAfterALaterDeploy(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	old, err := worker.New(h.q, worker.Options{PollInterval: time.Hour, Backoff: queue.Constant(time.Minute)})
	require.NoError(t, err)
	old.HandleFunc("known", func(context.Context, *queue.Job) error { return nil })
	require.NoError(t, old.Start(h.ctx))
	id := h.enqueue(queue.NewJob{Kind: "invoice.pdf"})
	j := h.waitState(id, queue.StateScheduled)
	require.ErrorContains(t, errors.New(j.Errors[0].Message), `no handler registered for kind "invoice.pdf"`)
	require.NoError(t, old.Stop(h.ctx))

	ran := make(chan struct{}, 1)
	h.pool(worker.Options{}, func(p *worker.Pool) {
		p.HandleFunc("invoice.pdf", func(context.Context, *queue.Job) error { ran <- struct{}{}; return nil })
	})
	h.clock.Advance(time.Minute)
	h.q.Store().(queue.Notifier).Notify("default")
	recv(t, ran)
	h.waitState(id, queue.StateCompleted)
}

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

func TestStopWaitsForHandlers(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	started, finish := make(chan struct{}, 1), make(chan struct{})
	p := h.pool(worker.Options{}, func(p *worker.Pool) {
		p.HandleFunc("report", func(ctx context.Context, j *queue.Job) error {
			started <- struct{}{}
			<-finish
			return nil
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "report"})
	recv(t, started)
	stopped := make(chan error, 1)
	go func() { stopped <- p.Stop(context.Background()) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a handler was running")
	default:
	}
	close(finish)
	require.NoError(t, recv(t, stopped))
	_, err := h.q.Inspector().Get(h.ctx, id)
	require.ErrorIs(t, err, queue.ErrNotFound, "the job completed before Stop returned")
}

func TestHardStopReleasesJobs(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	started := make(chan struct{}, 2)
	causes := make(chan error, 1)
	unblock, returned := make(chan struct{}), make(chan struct{})
	p := h.pool(worker.Options{}, func(p *worker.Pool) {
		p.HandleFunc("polite", func(ctx context.Context, j *queue.Job) error {
			started <- struct{}{}
			<-ctx.Done()
			causes <- context.Cause(ctx)
			return ctx.Err()
		})
		p.HandleFunc("stubborn", func(ctx context.Context, j *queue.Job) error {
			started <- struct{}{}
			<-unblock // ignores its context
			close(returned)
			return nil
		})
	})
	polite := h.enqueue(queue.NewJob{Kind: "polite"})
	stubborn := h.enqueue(queue.NewJob{Kind: "stubborn"})
	recv(t, started)
	recv(t, started)
	ctx, cancel := context.WithCancel(h.ctx)
	cancel() // no grace at all
	require.ErrorIs(t, p.Stop(ctx), context.Canceled)
	require.ErrorIs(t, recv(t, causes), worker.ErrStopping)
	for _, id := range []int64{polite, stubborn} {
		j, err := h.q.Inspector().Get(h.ctx, id)
		require.NoError(t, err)
		require.Equal(t, queue.StatePending, j.State, "job %d released to run again at once", id)
		require.Equal(t, 0, j.Attempt, "the interrupted attempt is refunded")
		require.Empty(t, j.Errors)
	}
	// The stubborn handler returns long after Stop: its nil must neither
	// panic the pool nor complete the released job.
	close(unblock)
	recv(t, returned)
	require.NoError(t, p.Heartbeat(h.ctx))
	j, err := h.q.Inspector().Get(h.ctx, stubborn)
	require.NoError(t, err)
	require.Equal(t, queue.StatePending, j.State)
}

func TestRescueExpiredLeases(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	p, err := worker.New(h.q, worker.Options{Backoff: queue.Constant(time.Minute)})
	require.NoError(t, err) // not started: Rescue is called directly
	retried := h.enqueue(queue.NewJob{Kind: "k", MaxAttempts: 2})
	lastTry := h.enqueue(queue.NewJob{Kind: "k", MaxAttempts: 1})
	now := h.clock.Now()
	// A worker that leases and then dies (never heartbeats).
	res, err := h.store.Lease(h.ctx, queue.LeaseParams{Queue: "default", Limit: 10, Now: now, Until: now.Add(30 * time.Second), Worker: "crashed-host:1"})
	require.NoError(t, err)
	require.Len(t, res.Jobs, 2)

	n, err := p.Rescue(h.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "leases still valid")
	h.clock.Advance(31 * time.Second)
	n, err = p.Rescue(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	j, err := h.q.Inspector().Get(h.ctx, retried)
	require.NoError(t, err)
	require.Equal(t, queue.StateScheduled, j.State)
	require.Equal(t, 1, j.Attempt, "the crashed attempt counts")
	require.True(t, j.RunAt.Equal(h.clock.Now().Add(time.Minute)))
	require.Contains(t, j.Errors[0].Message, "crashed-host:1 stopped heartbeating")

	j, err = h.q.Inspector().Get(h.ctx, lastTry)
	require.NoError(t, err)
	require.Equal(t, queue.StateDead, j.State, "no attempts left")
	require.Contains(t, j.DeadReason, "lease expired")
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
	require.Equal(t, 2, st.Queues[0].Running, "only MaxWorkers jobs are leased")
	require.Equal(t, 4, st.Queues[0].Pending)
	close(release)
	for _, id := range ids {
		h.waitState(id, queue.StateCompleted)
	}
	require.Equal(t, int32(2), peak.Load())
}

func TestKeepCompletedAndPrune(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	p := h.pool(worker.Options{KeepCompleted: time.Hour}, func(p *worker.Pool) {
		p.HandleFunc("k", func(context.Context, *queue.Job) error { return nil })
	})
	id := h.enqueue(queue.NewJob{Kind: "k"})
	j := h.waitState(id, queue.StateCompleted)
	require.NotNil(t, j, "kept for inspection")
	n, err := p.Prune(h.ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	h.clock.Advance(time.Hour + time.Second)
	n, err = p.Prune(h.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = h.q.Inspector().Get(h.ctx, id)
	require.ErrorIs(t, err, queue.ErrNotFound)
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
