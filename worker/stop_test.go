package worker_test

// Graceful and hard stops.

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

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

// A hard Stop releases the jobs of handlers that ignore their context, but
// not a job whose handler returned nil and whose completion is still being
// written: that job completes, and does not run again.
func TestHardStopCompletesJobsWhoseHandlerReturned(t *testing.T) {
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
