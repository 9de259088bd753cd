package spoolotel_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/spoolotel"
	"github.com/spooljobs/spool/worker"
)

// TestObserverLeavesBehaviourUnchanged runs the known workload with no
// Observer, with an Observer whose functions are all nil, and with
// spoolotel on the no-op providers, and checks that the jobs end the same:
// same states, attempts, metadata (no trace context from a tracer that
// records nothing), errors and dead reasons.
func TestObserverLeavesBehaviourUnchanged(t *testing.T) {
	t.Parallel()
	noop, err := spoolotel.New(spoolotel.Options{MeterProvider: metricnoop.NewMeterProvider(), TracerProvider: tracenoop.NewTracerProvider()})
	require.NoError(t, err)
	sdk, err := spoolotel.New(spoolotel.Options{MeterProvider: sdkmetric.NewMeterProvider(), TracerProvider: tracenoop.NewTracerProvider()})
	require.NoError(t, err)
	var outcomes []string
	for n, obs := range []*queue.Observer{nil, {}, noop.Observer(), sdk.Observer()} {
		e := newEnv(t, obs)
		e.enqueue(queue.NewJob{Kind: "ok", Queue: "work"})
		e.enqueue(queue.NewJob{Kind: "flaky", Queue: "work", MaxAttempts: 2, Metadata: map[string]string{"tenant": "t1"}})
		e.enqueue(queue.NewJob{Kind: "nap", Queue: "work"})
		var mws []worker.Middleware
		switch n {
		case 2:
			mws = append(mws, noop.Middleware())
		case 3:
			mws = append(mws, sdk.Middleware())
		}
		e.run(newWorkload(), 5, mws...)
		jobs, err := e.q.Inspector().List(e.ctx, queue.ListFilter{})
		require.NoError(t, err)
		out := ""
		for _, j := range jobs {
			msgs := []string{}
			for _, a := range j.Errors {
				msgs = append(msgs, a.Message)
			}
			out += fmt.Sprintf("%d %s %s attempt=%d md=%v errs=%v reason=%q\n", j.ID, j.Kind, j.State, j.Attempt, j.Metadata, msgs, j.DeadReason)
		}
		outcomes = append(outcomes, out)
	}
	require.Contains(t, outcomes[0], "flaky dead attempt=2 md=map[tenant:t1]")
	require.Equal(t, outcomes[0], outcomes[1], "an Observer with no functions")
	require.Equal(t, outcomes[0], outcomes[2], "spoolotel on no-op providers")
	require.Equal(t, outcomes[0], outcomes[3], "spoolotel recording metrics")
}

// TestEnqueueStartMetadata: metadata an Observer adds does not replace the
// job's own keys, counts against the metadata limit, and the context it
// returns reaches EnqueueDone.
func TestEnqueueStartMetadata(t *testing.T) {
	t.Parallel()
	type key struct{}
	var done []queue.EnqueueEvent
	obs := &queue.Observer{
		EnqueueStart: func(ctx context.Context, jobs []queue.NewJob) (context.Context, map[string]string) {
			return context.WithValue(ctx, key{}, "started"), map[string]string{"traceparent": "tp", "tenant": "from-hook"}
		},
		EnqueueDone: func(ctx context.Context, e queue.EnqueueEvent) {
			require.Equal(t, "started", ctx.Value(key{}))
			done = append(done, e)
		},
	}
	e := newEnv(t, obs)
	md := map[string]string{"tenant": "t1"}
	r := e.enqueue(queue.NewJob{Kind: "k", Metadata: md})
	j, err := e.q.Inspector().Get(e.ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"traceparent": "tp", "tenant": "t1"}, j.Metadata)
	require.Equal(t, map[string]string{"tenant": "t1"}, md, "the caller's map is not changed")
	require.Len(t, done, 1)
	require.Equal(t, queue.DefaultQueue, done[0].Jobs[0].Queue, "normalised jobs")
	require.Equal(t, "inserted", done[0].EnqueueResultName(0))

	big := make([]byte, 70<<10)
	obs.EnqueueStart = func(ctx context.Context, _ []queue.NewJob) (context.Context, map[string]string) {
		return context.WithValue(ctx, key{}, "started"), map[string]string{"huge": string(big)}
	}
	_, err = e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k"})
	var invalid *queue.InvalidJobError
	require.ErrorAs(t, err, &invalid)
	require.Equal(t, "Metadata", invalid.Field)
	require.Len(t, done, 2)
	require.Equal(t, "error", done[1].EnqueueResultName(0))
}

// TestPanickingHandler: an attempt whose handler panics is reported with
// the outcome its settle gets (dead: no attempts left), its consumer span
// ends with an error, and the job keeps the panic's own stack.
func TestPanickingHandler(t *testing.T) {
	t.Parallel()
	rec, inst := newTraced(t, false)
	var ends []queue.RunEndEvent
	obs := inst.Observer()
	obs.RunEnd = func(_ context.Context, e queue.RunEndEvent) { ends = append(ends, e) }
	e := newEnv(t, obs)
	r := e.enqueue(queue.NewJob{Kind: "boom", Queue: "work", MaxAttempts: 1})
	p, err := worker.New(e.q, worker.Options{Queues: map[string]worker.QueueConfig{"work": {}}, Monotonic: e.clock.Monotonic})
	require.NoError(t, err)
	p.Use(inst.Middleware())
	called := make(chan struct{})
	p.HandleFunc("boom", func(context.Context, *queue.Job) error {
		close(called)
		panicInHandler()
		return nil
	})
	require.NoError(t, p.Start(e.ctx))
	<-called
	require.NoError(t, p.Stop(e.ctx))

	require.Len(t, ends, 1)
	require.Equal(t, queue.OutcomeDead, ends[0].Outcome)
	require.Error(t, ends[0].Err)
	spans := spansNamed(rec, "process work")
	require.Len(t, spans, 1)
	require.Equal(t, "Error", spans[0].Status().Code.String())
	j, err := e.q.Inspector().Get(e.ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, queue.StateDead, j.State)
	require.Contains(t, j.Errors[0].Message, "panic: out of stock")
	require.Contains(t, j.Errors[0].Stack, "panicInHandler", "the stack of the panic itself")
}

//go:noinline
func panicInHandler() { panic("out of stock") }
