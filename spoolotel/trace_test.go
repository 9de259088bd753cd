package spoolotel_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/spoolotel"
	"github.com/spooljobs/spool/worker"
)

func newTraced(t *testing.T, childOf bool) (*tracetest.SpanRecorder, *spoolotel.Instrumentation) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	inst, err := spoolotel.New(spoolotel.Options{
		MeterProvider:   sdkmetric.NewMeterProvider(),
		TracerProvider:  sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)),
		ChildOfProducer: childOf,
	})
	require.NoError(t, err)
	return rec, inst
}

func spansNamed(rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// TestTraceProducerAndConsumerSpans: an enqueue's producer span puts its
// W3C trace context in the job's metadata; each attempt's consumer span
// links to it (a trace of its own by default); a job the handler enqueues
// gets a producer span that is a child of the consumer span.
func TestTraceProducerAndConsumerSpans(t *testing.T) {
	t.Parallel()
	rec, inst := newTraced(t, false)
	e := newEnv(t, inst.Observer())
	res := e.enqueue(queue.NewJob{Kind: "flaky", Queue: "work", MaxAttempts: 2})

	j, err := e.q.Inspector().Get(e.ctx, res.ID)
	require.NoError(t, err)
	producers := spansNamed(rec, "send work")
	require.Len(t, producers, 1)
	producer := producers[0]
	require.Equal(t, trace.SpanKindProducer, producer.SpanKind())
	require.Equal(t, "spool", attr(producer, "messaging.system"))
	require.Equal(t, "flaky", attr(producer, "spool.job.kind"))
	require.Equal(t, j.Metadata["traceparent"], "00-"+producer.SpanContext().TraceID().String()+"-"+producer.SpanContext().SpanID().String()+"-01",
		"the producer span's W3C trace context travels in the metadata")
	require.Equal(t, "1", attr(producer, "messaging.message.id"))

	w := newWorkload()
	e.run(w, 2, inst.Middleware())
	consumers := spansNamed(rec, "process work")
	require.Len(t, consumers, 2, "one consumer span per attempt")
	for n, c := range consumers {
		require.Equal(t, trace.SpanKindConsumer, c.SpanKind())
		require.Len(t, c.Links(), 1)
		require.Equal(t, producer.SpanContext().TraceID(), c.Links()[0].SpanContext.TraceID())
		require.Equal(t, producer.SpanContext().SpanID(), c.Links()[0].SpanContext.SpanID())
		require.NotEqual(t, producer.SpanContext().TraceID(), c.SpanContext().TraceID(), "a trace of its own")
		require.False(t, c.Parent().IsValid())
		require.Equal(t, []string{"1", "2"}[n], attr(c, "spool.job.attempt"))
		require.Equal(t, []string{"retry", "dead"}[n], attr(c, "spool.outcome"))
		require.Equal(t, "1", attr(c, "messaging.message.id"))
	}
}

// TestTraceChildOfProducer: with ChildOfProducer the consumer span is the
// producer span's child, and a job enqueued by the handler continues the
// same trace; a published event's trace context reaches the delivered job.
func TestTraceChildOfProducer(t *testing.T) {
	t.Parallel()
	rec, inst := newTraced(t, true)
	e := newEnv(t, inst.Observer())
	e.enqueue(queue.NewJob{Kind: "parent", Queue: "work"})

	p, err := worker.New(e.q, worker.Options{Queues: map[string]worker.QueueConfig{"work": {MaxWorkers: 2}}, Monotonic: e.clock.Monotonic})
	require.NoError(t, err)
	p.Use(inst.Middleware())
	done := make(chan struct{}, 2)
	p.HandleFunc("parent", func(ctx context.Context, _ *queue.Job) error {
		_, err := e.q.Enqueue(ctx, queue.NewJob{Kind: "child", Queue: "work"})
		done <- struct{}{}
		return err
	})
	p.HandleFunc("child", func(context.Context, *queue.Job) error { done <- struct{}{}; return nil })
	require.NoError(t, p.Start(e.ctx))
	<-done
	<-done
	require.NoError(t, p.Stop(e.ctx))

	sends := spansNamed(rec, "send work")
	require.Len(t, sends, 2)
	procs := spansNamed(rec, "process work")
	require.Len(t, procs, 2)
	byKind := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range append(sends, procs...) {
		byKind[s.SpanKind().String()+"/"+attr(s, "spool.job.kind")] = s
	}
	parentSend, parentProc := byKind["producer/parent"], byKind["consumer/parent"]
	childSend, childProc := byKind["producer/child"], byKind["consumer/child"]
	traceID := parentSend.SpanContext().TraceID()
	for _, s := range []sdktrace.ReadOnlySpan{parentProc, childSend, childProc} {
		require.Equal(t, traceID, s.SpanContext().TraceID(), "%s in the producer's trace", s.Name())
	}
	require.Equal(t, parentSend.SpanContext().SpanID(), parentProc.Parent().SpanID())
	require.Equal(t, parentProc.SpanContext().SpanID(), childSend.Parent().SpanID(), "the handler's enqueue is a child of its attempt")
	require.Equal(t, childSend.SpanContext().SpanID(), childProc.Parent().SpanID())
}

// TestTracePublish: a publish's producer span puts its trace context on the
// event, so the job each subscription gets carries it.
func TestTracePublish(t *testing.T) {
	t.Parallel()
	rec, inst := newTraced(t, false)
	e := newEnv(t, inst.Observer())
	require.NoError(t, e.q.Topics().Subscribe(e.ctx, queue.Subscription{Name: "mail", Pattern: "orders.*", Queue: "mail", Kind: "mail.send"}))
	res, err := e.q.Publish(e.ctx, queue.Event{Topic: "orders.created", Args: map[string]int{"order": 7}})
	require.NoError(t, err)
	require.Equal(t, 1, res.Jobs)
	pubs := spansNamed(rec, "publish orders.created")
	require.Len(t, pubs, 1)
	require.Equal(t, trace.SpanKindProducer, pubs[0].SpanKind())
	require.Equal(t, "1", attr(pubs[0], "spool.event.deliveries"))
	jobs, err := e.q.Inspector().List(e.ctx, queue.ListFilter{Queue: "mail"})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	require.Contains(t, jobs[0].Metadata["traceparent"], pubs[0].SpanContext().SpanID().String())
}
