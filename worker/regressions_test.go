package worker_test

// Regression tests for bugs a review of the pool found: each failed before
// its fix.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
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

// hookStore wraps a sqlite store so tests can fail or delay Settle.
type hookStore struct {
	*sqlite.Store
	settle func(ctx context.Context, tx *sql.Tx, s []queue.Settlement) (bool, []error, error)
}

func (h *hookStore) Settle(ctx context.Context, tx *sql.Tx, s []queue.Settlement) ([]error, error) {
	if h.settle != nil {
		if handled, errs, err := h.settle(ctx, tx, s); handled {
			return errs, err
		}
	}
	return h.Store.Settle(ctx, tx, s)
}

func newHookQueue(t *testing.T) (*hookStore, *queue.Queue, *queuetest.Clock) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "spool.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	hs := &hookStore{Store: st}
	clock := queuetest.NewClock(time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC))
	q, err := queue.New(hs, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	return hs, q, clock
}

// logSink records log messages.
type logSink struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logSink) WithGroup(string) slog.Handler      { return l }
func (l *logSink) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
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

// A handler succeeds on its last attempt while the store refuses its
// settlement five times (SQLite busy, say): the pool keeps trying, the job
// completes, and it is never rescued as a failure.
func TestSettleRetriedUntilStoreRecovers(t *testing.T) {
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

// A hard Stop releases the jobs of handlers that ignore their context, but
// not a job whose handler returned nil and whose completion is still being
// written: that job completes, and does not run again.
func TestHardStopLeavesFinishedJobsToSettler(t *testing.T) {
	hs, q, _ := newHookQueue(t)
	// The completion's write waits until Stop has released the hung job:
	// Stop then finds the finished job still unsettled.
	released := make(chan struct{})
	var once sync.Once
	hs.settle = func(_ context.Context, tx *sql.Tx, s []queue.Settlement) (bool, []error, error) {
		switch s[0].Outcome {
		case queue.OutcomeComplete:
			<-released
		case queue.OutcomeRelease:
			defer once.Do(func() { close(released) })
		}
		return false, nil, nil
	}
	p, err := worker.New(q, worker.Options{PollInterval: time.Hour})
	require.NoError(t, err)
	hung := make(chan struct{})
	defer close(hung)
	okDone, hangStarted := make(chan struct{}), make(chan struct{})
	p.HandleFunc("ok", func(ctx context.Context, j *queue.Job) error { close(okDone); return nil })
	p.HandleFunc("hang", func(ctx context.Context, j *queue.Job) error { close(hangStarted); <-hung; return nil })
	require.NoError(t, p.Start(context.Background()))
	_, err = q.Enqueue(context.Background(), queue.NewJob{Kind: "hang"})
	require.NoError(t, err)
	<-hangStarted
	r, err := q.Enqueue(context.Background(), queue.NewJob{Kind: "ok"})
	require.NoError(t, err)
	<-okDone
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	p.Stop(ctx)
	j, err := q.Inspector().Get(context.Background(), r.ID)
	if err == nil {
		t.Fatalf("job whose handler returned nil was released to run again: state %s attempt %d", j.State, j.Attempt)
	}
	require.ErrorIs(t, err, queue.ErrNotFound)
}

// An operator's cancel reaches a running handler through its context; the
// heartbeat does not write to the job the handler reads (the race detector
// would report it).
func TestCancelRequestNotWrittenOnHandlersJob(t *testing.T) {
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

// A handler that calls runtime.Goexit (t.FailNow, say) ends its worker's
// goroutine: the attempt fails with a clear error, and with one worker
// the next job still runs.
func TestGoexitInHandlerFailsAttemptAndFreesSlot(t *testing.T) {
	h := newTestQueue(t)
	ran := make(chan struct{})
	h.pool(worker.Options{Queues: map[string]worker.QueueConfig{queue.DefaultQueue: {MaxWorkers: 1}}}, func(p *worker.Pool) {
		p.HandleFunc("exit", func(ctx context.Context, j *queue.Job) error { runtime.Goexit(); return nil })
		p.HandleFunc("ok", func(ctx context.Context, j *queue.Job) error { close(ran); return nil })
	})
	exit := h.enqueue(queue.NewJob{Kind: "exit"})
	h.enqueue(queue.NewJob{Kind: "ok"})
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("worker slot lost after runtime.Goexit in a handler: next job never ran")
	}
	j := h.waitState(exit, queue.StateScheduled)
	require.Len(t, j.Errors, 1)
	require.Contains(t, j.Errors[0].Message, "runtime.Goexit")
}

// A handler that panics with an outcome error means it: a panic with
// queue.Permanent sends the job to the dead table at once.
func TestPanicWithPermanentError(t *testing.T) {
	h := newTestQueue(t)
	h.pool(worker.Options{}, func(p *worker.Pool) {
		p.HandleFunc("boom", func(ctx context.Context, j *queue.Job) error {
			panic(queue.Permanent(errors.New("order 7 has no lines")))
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "boom"})
	j := h.waitState(id, queue.StateDead)
	require.Contains(t, j.DeadReason, "order 7 has no lines")
	require.Len(t, j.Errors, 1)
	require.Contains(t, j.Errors[0].Stack, "TestPanicWithPermanentError")
}

// A second Stop while the first is still waiting for a handler does not
// pretend the pool stopped: it waits too, until its own ctx ends.
func TestSecondStopWaitsForFirst(t *testing.T) {
	h := newTestQueue(t)
	sink := &logSink{}
	release, started := make(chan struct{}), make(chan struct{})
	p := h.pool(worker.Options{Logger: slog.New(sink)}, func(p *worker.Pool) {
		p.HandleFunc("slow", func(ctx context.Context, j *queue.Job) error {
			close(started)
			<-release
			return nil
		})
	})
	id := h.enqueue(queue.NewJob{Kind: "slow"})
	<-started
	first := make(chan error, 1)
	go func() { first <- p.Stop(context.Background()) }()
	require.Eventually(t, func() bool { return sink.has("pool stopping") }, 10*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, p.Stop(ctx), context.DeadlineExceeded, "the handler still runs")
	close(release)
	require.NoError(t, <-first)
	require.NoError(t, p.Stop(context.Background()), "stopped: at once")
	_, err := h.q.Inspector().Get(h.ctx, id)
	require.ErrorIs(t, err, queue.ErrNotFound, "the slow job completed")
}

// After a batch failed with ErrCorrupt, the outcomes are settled one by
// one; one that then fails for a passing reason (busy) is tried again, as
// the batch would be. Before, it was logged and dropped: the succeeded job
// stayed leased and would run again.
func TestSettleEachRetriesPassingFailures(t *testing.T) {
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
