package spooltest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
	"github.com/spooljobs/spool/spooltest"
	"github.com/spooljobs/spool/worker"
)

func TestDrainRunsJobsTheirJobsEnqueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := spooltest.New(t, spooltest.Options{Start: start, WorkerOptions: worker.Options{
		Queues: map[string]worker.QueueConfig{"orders": {}, "mail": {}}}})
	q := k.Queue()
	pool := k.NewPool(t)
	var order []string
	pool.HandleFunc("order.placed", func(ctx context.Context, j *queue.Job) error {
		order = append(order, "order.placed")
		_, err := q.EnqueueMany(ctx, []queue.NewJob{{Kind: "stock.reserve", Queue: "orders"}, {Kind: "email.receipt", Queue: "mail"}})
		return err
	})
	pool.HandleFunc("stock.reserve", func(ctx context.Context, j *queue.Job) error {
		order = append(order, "stock.reserve")
		_, err := q.Enqueue(ctx, queue.NewJob{Kind: "warehouse.notify", Queue: "orders"})
		return err
	})
	pool.HandleFunc("email.receipt", func(context.Context, *queue.Job) error { order = append(order, "email.receipt"); return nil })
	pool.HandleFunc("warehouse.notify", func(context.Context, *queue.Job) error { order = append(order, "warehouse.notify"); return nil })
	_, err := q.Enqueue(ctx, queue.NewJob{Kind: "order.placed", Queue: "orders"})
	require.NoError(t, err)

	rep := k.Drain(ctx, t, pool)
	require.Equal(t, map[string]int{"order.placed": 1, "stock.reserve": 1, "email.receipt": 1, "warehouse.notify": 1}, rep.Kinds())
	require.Equal(t, map[string]int{"complete": 4}, rep.Outcomes())
	require.Equal(t, []string{"order.placed", "stock.reserve", "warehouse.notify", "email.receipt"}, order,
		"one queue at a time, in name order, until it has no job ready: mail had none when the first round reached it")
	k.RequireOnlyEnqueued(ctx, t) // completed jobs are deleted: nothing left
}

func TestDrainAdvancesTheClockThroughRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := spooltest.New(t, spooltest.Options{Start: start, WorkerOptions: worker.Options{Backoff: queue.Constant(time.Minute)}})
	pool := k.NewPool(t)
	pool.HandleFunc("flaky", func(ctx context.Context, j *queue.Job) error {
		if j.Attempt < 3 {
			return errors.New("partner returned 503")
		}
		return nil
	})
	pool.HandleFunc("hopeless", func(context.Context, *queue.Job) error { return errors.New("never") })
	_, err := k.Queue().EnqueueMany(ctx, []queue.NewJob{{Kind: "flaky"}, {Kind: "hopeless", MaxAttempts: 4}})
	require.NoError(t, err)

	// Without Advance, only what is due now runs; the retries wait.
	rep := k.Drain(ctx, t, pool)
	require.Len(t, rep.Runs, 2)
	require.Equal(t, 2, rep.Scheduled)
	require.Equal(t, start.Add(time.Minute), rep.NextRunAt.UTC())
	require.Equal(t, start, k.Now())

	// Advance lets Drain move the clock to each retry, not past its bound.
	rep = k.DrainWith(ctx, t, pool, spooltest.DrainOptions{Advance: 90 * time.Second})
	require.Equal(t, time.Minute, rep.Advanced)
	require.Equal(t, 2, rep.Count("flaky", queue.OutcomeRetry)+rep.Count("hopeless", queue.OutcomeRetry))

	rep = k.DrainWith(ctx, t, pool, spooltest.DrainOptions{Advance: time.Hour})
	require.Equal(t, 2*time.Minute, rep.Advanced)
	require.Equal(t, 1, rep.Count("flaky", queue.OutcomeComplete))
	require.Equal(t, 1, rep.Count("hopeless", queue.OutcomeRetry))
	require.Equal(t, 1, rep.Count("hopeless", queue.OutcomeDead))
	require.Zero(t, rep.Scheduled)
	require.Equal(t, start.Add(3*time.Minute), k.Now())
	k.RequireOnlyEnqueued(ctx, t, spooltest.Want("hopeless", nil, spooltest.State(queue.StateDead)))
	require.Equal(t, "3 attempts (flaky: complete 1; hopeless: dead 1, retry 1); clock advanced 2m0s", rep.String())
}

func TestDrainFailsOnAJobThatEnqueuesItselfForever(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newKit(t)
	pool := k.NewPool(t)
	pool.HandleFunc("again", func(ctx context.Context, j *queue.Job) error {
		_, err := k.Queue().Enqueue(ctx, queue.NewJob{Kind: "again"})
		return err
	})
	_, err := k.Queue().Enqueue(ctx, queue.NewJob{Kind: "again"})
	require.NoError(t, err)

	msg := failure(t, func(tb testing.TB) { k.DrainWith(ctx, tb, pool, spooltest.DrainOptions{MaxJobs: 20}) })
	require.Contains(t, msg, "spooltest: Drain ran 20 jobs (DrainOptions.MaxJobs) and job 21 (again) is still ready: a job that enqueues itself forever? Ran: 20 attempts (again: complete 20)")
	// The job it did not run was handed back, not left leased.
	k.RequireOnlyEnqueued(ctx, t, spooltest.Want("again", nil, spooltest.State(queue.StatePending)))
}

func TestRunSchedulesFiresEveryTickInTheSpan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newKit(t)
	s, err := schedule.New(k.Queue(), schedule.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Add(schedule.Entry{Name: "hourly.report", Spec: "0 * * * *",
		Job: queue.NewJob{Kind: "report.build"}, Misfire: schedule.MisfireSkip}))

	k.RunSchedules(ctx, t, s, 3*time.Hour)
	require.Equal(t, start.Add(3*time.Hour), k.Now())
	jobs := k.Jobs(ctx, t, nil)
	require.Len(t, jobs, 3, "13:00, 14:00 and 15:00")
	for i, j := range jobs {
		require.Equal(t, start.Add(time.Duration(i+1)*time.Hour), j.RunAt.UTC())
	}

	// One round after a long Advance skips the late ticks (MisfireSkip):
	// what RunSchedules is for.
	k.Advance(3 * time.Hour)
	k.RunSchedulesOnce(ctx, t, s)
	require.Len(t, k.Jobs(ctx, t, nil), 4, "only 18:00")

	pool := k.NewPool(t)
	pool.HandleFunc("report.build", func(context.Context, *queue.Job) error { return nil })
	require.Equal(t, 4, k.Drain(ctx, t, pool).Count("report.build", queue.OutcomeComplete))
}

func TestDrainReportsWhatItLeft(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := spooltest.New(t, spooltest.Options{Start: start, WorkerOptions: worker.Options{
		Queues: map[string]worker.QueueConfig{"default": {}, "slow": {}}}})
	q := k.Queue()
	pool := k.NewPool(t)
	pool.HandleFunc("step", func(ctx context.Context, j *queue.Job) error { return queue.Permanent(errors.New("broken")) })
	_, err := q.EnqueueMany(ctx, []queue.NewJob{{Kind: "step", OrderKey: "doc:1"}, {Kind: "step", OrderKey: "doc:1"}})
	require.NoError(t, err)
	require.NoError(t, q.Inspector().Pause(ctx, "slow"))
	_, err = q.EnqueueMany(ctx, []queue.NewJob{{Kind: "step", Queue: "slow"}, {Kind: "step", Queue: "slow", RunAt: start.Add(time.Hour)}})
	require.NoError(t, err)

	rep := k.Drain(ctx, t, pool)
	require.Equal(t, 1, rep.Count("step", queue.OutcomeDead))
	require.Equal(t, 1, rep.Blocked, "the second job of doc:1 waits behind the dead first")
	require.Equal(t, 2, rep.Paused, "the ready and the scheduled job of the paused queue")
	require.Zero(t, rep.Scheduled, "a paused queue's jobs are counted once, as paused")
	require.Equal(t, "1 attempts (step: dead 1); 1 left blocked behind their ordering key; 2 left in paused queues", rep.String())
}

func TestDrainFailsOnAKindWithoutHandler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newKit(t)
	pool := k.NewPool(t)
	pool.HandleFunc("known", func(context.Context, *queue.Job) error { return nil })
	_, err := k.Queue().EnqueueMany(ctx, []queue.NewJob{{Kind: "known"}, {Kind: "unknwon"}})
	require.NoError(t, err)
	msg := failure(t, func(tb testing.TB) { k.Drain(ctx, tb, pool) })
	require.Contains(t, msg, `spooltest: Drain: job 2 of kind "unknwon" has no handler on the pool`)
}
