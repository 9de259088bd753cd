package spoolotel_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/spoolotel"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// One job, enqueued and run twice (its first attempt fails): the trace of
// its producer span and of its two consumer spans, recorded by the SDK's
// in-memory span recorder, and the settled counter read by a ManualReader.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "spoolotel")
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "spool.db"), sqlite.Options{})
	if err != nil {
		panic(err)
	}
	defer store.Close()

	spans := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	inst, err := spoolotel.New(spoolotel.Options{
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if err != nil {
		panic(err)
	}
	q, err := queue.New(store, queue.Options{Observer: inst.Observer(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	pool, err := worker.New(q, worker.Options{})
	if err != nil {
		panic(err)
	}
	pool.Use(inst.Middleware())
	done := make(chan struct{})
	pool.HandleFunc("email.receipt", func(ctx context.Context, job *queue.Job) error {
		if job.Attempt == 1 {
			return queue.RetryIn(0, errors.New("smtp: 421 try again"))
		}
		close(done)
		return nil
	})
	res, err := q.Enqueue(ctx, queue.NewJob{Kind: "email.receipt", Args: map[string]int{"order": 10245}})
	if err != nil {
		panic(err)
	}
	job, _ := q.Inspector().Get(ctx, res.ID)
	if err := pool.Start(ctx); err != nil {
		panic(err)
	}
	<-done
	pool.Stop(ctx)

	ended := spans.Ended()
	producer := ended[0]
	fmt.Printf("%s (%s) kind=%s; job metadata traceparent names it: %v\n", producer.Name(), producer.SpanKind(),
		attr(producer, "spool.job.kind"), job.Metadata["traceparent"] == "00-"+producer.SpanContext().TraceID().String()+"-"+producer.SpanContext().SpanID().String()+"-01")
	for _, s := range ended[1:] {
		fmt.Printf("%s (%s) attempt=%s outcome=%s status=%s; links to the producer: %v\n", s.Name(), s.SpanKind(),
			attr(s, "spool.job.attempt"), attr(s, "spool.outcome"), s.Status().Code,
			len(s.Links()) == 1 && s.Links()[0].SpanContext.SpanID() == producer.SpanContext().SpanID())
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == spoolotel.MetricSettled {
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				outcome, _ := p.Attributes.Value("spool.outcome")
				fmt.Printf("%s{spool.outcome=%s} %d\n", m.Name, outcome.Emit(), p.Value)
			}
		}
	}
	// Unordered output:
	// send default (producer) kind=email.receipt; job metadata traceparent names it: true
	// process default (consumer) attempt=1 outcome=retry status=Error; links to the producer: true
	// process default (consumer) attempt=2 outcome=complete status=Unset; links to the producer: true
	// spool.jobs.settled{spool.outcome=retry} 1
	// spool.jobs.settled{spool.outcome=complete} 1
}
