package spooltest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/spooltest"
	"github.com/spooljobs/spool/worker"
)

func TestWorkRunsARealJobThroughMiddleware(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var seen []string
	k := spooltest.New(t, spooltest.Options{Start: start,
		Middleware: []worker.Middleware{func(next worker.Handler) worker.Handler {
			return worker.HandlerFunc(func(ctx context.Context, j *queue.Job) error {
				seen = append(seen, "middleware:"+j.Kind)
				return next.Work(ctx, j)
			})
		}}})
	q := k.Queue()
	var got *queue.Job
	h := worker.JSON(func(ctx context.Context, j *queue.Job, r receipt) error {
		got = j
		seen = append(seen, "handler")
		// A job the handler enqueues inherits the running job's correlation id.
		_, err := q.Enqueue(ctx, queue.NewJob{Kind: "email.sent", Args: r})
		return err
	})
	res := k.Work(ctx, t, h, queue.NewJob{Kind: "email.receipt", Args: receipt{OrderID: 7},
		Metadata: map[string]string{"correlation_id": "order-7"}})

	require.Equal(t, queue.OutcomeComplete, res.Outcome, res)
	require.NoError(t, res.Err)
	require.Equal(t, []string{"middleware:email.receipt", "handler"}, seen)
	require.Same(t, got, res.Job)
	require.NotZero(t, got.ID)
	require.Equal(t, 1, got.Attempt)
	require.Equal(t, queue.StateRunning, got.State)
	require.NotZero(t, got.LeaseToken)
	require.Equal(t, "order-7", got.Metadata["correlation_id"])
	k.RequireOnlyEnqueued(ctx, t, spooltest.Want("email.sent", receipt{OrderID: 7}, spooltest.Metadata("correlation_id", "order-7")))
}

func TestWorkOutcomes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := spooltest.New(t, spooltest.Options{Start: start, WorkerOptions: worker.Options{Backoff: queue.Constant(time.Minute)}})
	fail := func(err error) worker.Handler {
		return worker.HandlerFunc(func(context.Context, *queue.Job) error { return err })
	}

	res := k.Work(ctx, t, fail(errors.New("partner returned 503")), queue.NewJob{Kind: "a"})
	require.Equal(t, queue.OutcomeRetry, res.Outcome)
	require.EqualError(t, res.Err, "partner returned 503")
	require.Equal(t, start.Add(time.Minute), res.RunAt)
	k.RequireEnqueued(ctx, t, "a", nil, spooltest.State(queue.StateScheduled), spooltest.RunAt(start.Add(time.Minute)))

	res = k.Work(ctx, t, fail(queue.Permanent(errors.New("no such order"))), queue.NewJob{Kind: "b"})
	require.Equal(t, queue.OutcomeDead, res.Outcome)
	require.Contains(t, res.DeadReason, "no such order")
	k.RequireEnqueued(ctx, t, "b", nil, spooltest.State(queue.StateDead))

	res = k.Work(ctx, t, fail(queue.Snooze(time.Hour)), queue.NewJob{Kind: "c"})
	require.Equal(t, queue.OutcomeSnooze, res.Outcome)
	require.Equal(t, start.Add(time.Hour), res.RunAt)

	res = k.Work(ctx, t, fail(errors.New("last try")), queue.NewJob{Kind: "d", MaxAttempts: 1})
	require.Equal(t, queue.OutcomeDead, res.Outcome)

	res = k.Work(ctx, t, worker.HandlerFunc(func(context.Context, *queue.Job) error { panic("boom") }), queue.NewJob{Kind: "e"})
	require.Equal(t, queue.OutcomeRetry, res.Outcome)
	require.EqualError(t, res.Err, "panic: boom")

	// A delayed job runs at once.
	res = k.Work(ctx, t, fail(nil), queue.NewJob{Kind: "f", Delay: time.Hour})
	require.Equal(t, queue.OutcomeComplete, res.Outcome)
}

func TestWorkPoolLeavesOtherJobsAsTheyWere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newKit(t)
	older, err := k.Queue().Enqueue(ctx, queue.NewJob{Kind: "other", Priority: 9})
	require.NoError(t, err)

	pool := k.NewPool(t)
	pool.HandleFunc("mine", func(context.Context, *queue.Job) error { return nil })
	res := k.WorkPool(ctx, t, pool, queue.NewJob{Kind: "mine"})
	require.Equal(t, queue.OutcomeComplete, res.Outcome)

	j, err := k.Queue().Inspector().Get(ctx, older.ID)
	require.NoError(t, err)
	require.Equal(t, queue.StatePending, j.State)
	require.Equal(t, 0, j.Attempt)
	require.Equal(t, start, j.RunAt.UTC())

	// A pool on another queue is refused.
	other := spooltest.New(t, spooltest.Options{})
	msg := failure(t, func(tb testing.TB) { k.WorkPool(ctx, tb, other.NewPool(t), queue.NewJob{Kind: "mine"}) })
	require.Contains(t, msg, "the pool must be built on the kit's queue")

	msg = failure(t, func(tb testing.TB) { k.WorkPool(ctx, tb, pool, queue.NewJob{Kind: "theirs"}) })
	require.Contains(t, msg, `kind "theirs" has no handler on the pool`)

	// A job of a paused queue cannot run.
	require.NoError(t, k.Queue().Inspector().Pause(ctx, "slow"))
	msg = failure(t, func(tb testing.TB) { k.WorkPool(ctx, tb, pool, queue.NewJob{Kind: "mine", Queue: "slow"}) })
	require.Contains(t, msg, `queue "slow" is paused`)
}

// A handler's recorded output and progress reach the store through Work as
// they do through a running pool.
func TestWorkKeepsOutputAndProgress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := spooltest.New(t, spooltest.Options{Start: start, WorkerOptions: worker.Options{KeepCompleted: time.Hour}})
	h := worker.HandlerFunc(func(ctx context.Context, j *queue.Job) error {
		if err := worker.ReportProgress(ctx, 0.5, "half way"); err != nil {
			return err
		}
		return worker.RecordOutput(ctx, map[string]int{"labels": 3})
	})
	res := k.Work(ctx, t, h, queue.NewJob{Kind: "label.print"})
	require.Equal(t, queue.OutcomeComplete, res.Outcome, res)
	got, err := k.Queue().Inspector().Get(ctx, res.Job.ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"labels":3}`, string(got.Output))
	require.NotNil(t, got.Progress)
	require.Equal(t, "half way", got.Progress.Message)
}
