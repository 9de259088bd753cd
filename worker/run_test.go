package worker_test

// What a handler's run decides: its result, panic, timeout or Goexit
// becomes the job's outcome.

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

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
	require.Contains(t, j.Errors[0].Stack, "run_test.go", "the stack points at the handler")
	// The single worker survived the panic.
	h.enqueue(queue.NewJob{Kind: "fine"})
	recv(t, done)
}

// A handler that panics with an outcome error means it: a panic with
// queue.Permanent sends the job to the dead table at once.
func TestPanicWithPermanentErrorGoesDead(t *testing.T) {
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

func TestCorrelationFlowsToChildJobs(t *testing.T) {
	t.Parallel()
	h := newTestQueue(t)
	childID := make(chan int64, 1)
	h.pool(worker.Options{}, func(p *worker.Pool) {
		p.HandleFunc("order.created", func(ctx context.Context, j *queue.Job) error {
			r, err := h.q.Enqueue(ctx, queue.NewJob{Kind: "email.receipt"})
			childID <- r.ID
			return err
		})
		p.HandleFunc("email.receipt", func(ctx context.Context, j *queue.Job) error { return queue.Snooze(time.Hour) })
	})
	h.enqueue(queue.NewJob{Kind: "order.created", Metadata: map[string]string{"correlation_id": "req-7f3a"}})
	child := h.waitState(recv(t, childID), queue.StateScheduled)
	require.Equal(t, "req-7f3a", child.Metadata["correlation_id"])
}
