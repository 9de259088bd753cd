package spoolotel

import (
	"context"
	"fmt"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

// enqueueStart starts the producer span of an enqueue call ("send
// <queue>") and returns its trace context as the metadata every job of
// the call carries.
func (i *Instrumentation) enqueueStart(ctx context.Context, jobs []queue.NewJob) (context.Context, map[string]string) {
	q := jobsQueue(jobs)
	ctx, span := i.tracer.Start(ctx, i.spanName("send ", q), producerKind)
	if !span.IsRecording() {
		return ctx, i.inject(ctx, span)
	}
	span.SetAttributes(attrSystem.String(System), attrOpName.String("send"), attrOpType.String("send"), attrDestination.String(q))
	if len(jobs) == 1 {
		span.SetAttributes(AttrKind.String(jobs[0].Kind))
	} else {
		span.SetAttributes(attrBatchCount.Int(len(jobs)))
	}
	return ctx, i.inject(ctx, span)
}

// producerKind starts a producer span. Attributes are set on the span
// once it is known to record, so that a tracer that records nothing costs
// little.
var producerKind = trace.WithSpanKind(trace.SpanKindProducer)

// endProducer ends the producer span of an enqueue call.
func (i *Instrumentation) endProducer(ctx context.Context, e queue.EnqueueEvent) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		span.End()
		return
	}
	if len(e.Results) == 1 {
		span.SetAttributes(attrMessageID.String(strconv.FormatInt(e.Results[0].ID, 10)),
			AttrEnqueueResult.String(e.EnqueueResultName(0)))
	}
	if e.Err != nil {
		span.SetAttributes(AttrEnqueueResult.String(e.EnqueueResultName(0)), attrErrorType.String(fmt.Sprintf("%T", e.Err)))
		span.RecordError(e.Err)
		span.SetStatus(codes.Error, e.Err.Error())
	}
	span.End()
}

// publishStart starts the producer span of a publish ("publish <topic>")
// and returns its trace context as metadata for the event, which every
// delivered job carries.
func (i *Instrumentation) publishStart(ctx context.Context, ev queue.Event) (context.Context, map[string]string) {
	ctx, span := i.tracer.Start(ctx, i.spanName("publish ", ev.Topic), producerKind)
	if span.IsRecording() {
		span.SetAttributes(attrSystem.String(System), attrOpName.String("publish"), attrOpType.String("send"),
			attrDestination.String(ev.Topic))
	}
	return ctx, i.inject(ctx, span)
}

// endPublish ends the producer span of a publish.
func (i *Instrumentation) endPublish(ctx context.Context, e queue.PublishEvent) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		span.End()
		return
	}
	if e.Err != nil {
		span.SetAttributes(attrErrorType.String(fmt.Sprintf("%T", e.Err)))
		span.RecordError(e.Err)
		span.SetStatus(codes.Error, e.Err.Error())
	} else {
		span.SetAttributes(attrMessageID.String(strconv.FormatInt(e.Result.EventID, 10)),
			attribute.Int("spool.event.deliveries", e.Result.Jobs))
	}
	span.End()
}

// inject returns the trace context of ctx as metadata, or nil when span
// records nothing and carries no valid context (tracing is off).
func (i *Instrumentation) inject(ctx context.Context, span trace.Span) map[string]string {
	if !span.SpanContext().IsValid() {
		return nil
	}
	md := propagation.MapCarrier{}
	i.prop.Inject(ctx, md)
	if len(md) == 0 {
		return nil
	}
	return md
}

// Middleware returns worker middleware that runs each attempt in a
// consumer span ("process <queue>"), linked to the producer span whose
// trace context the job's metadata carries (and its child with
// Options.ChildOfProducer). Jobs the handler enqueues get producer spans
// that are children of it. Install it with Pool.Use. On OpenTelemetry's
// no-op tracer provider it leaves handlers as they are.
func (i *Instrumentation) Middleware() worker.Middleware {
	if i.noTraces {
		return func(next worker.Handler) worker.Handler { return next }
	}
	return func(next worker.Handler) worker.Handler {
		return worker.HandlerFunc(func(ctx context.Context, job *queue.Job) (err error) {
			ctx, span := i.startConsumer(ctx, job)
			ended := false
			defer func() {
				if ended {
					return
				}
				// The handler panicked (the pool recovers it) or ended its
				// goroutine: end the span all the same.
				r := recover()
				span.SetStatus(codes.Error, fmt.Sprintf("panic: %v", r))
				span.End()
				if r != nil {
					panic(r)
				}
			}()
			err = next.Work(ctx, job)
			ended = true
			i.endConsumer(span, job, err)
			return err
		})
	}
}

// startConsumer starts the consumer span of an attempt of job. Its
// attributes are set once the span is known to record.
func (i *Instrumentation) startConsumer(ctx context.Context, job *queue.Job) (context.Context, trace.Span) {
	var producer trace.SpanContext
	if i.carries(job.Metadata) {
		producer = trace.SpanContextFromContext(i.prop.Extract(context.Background(), propagation.MapCarrier(job.Metadata)))
	}
	var span trace.Span
	switch {
	case producer.IsValid() && i.opts.ChildOfProducer:
		ctx, span = i.tracer.Start(trace.ContextWithRemoteSpanContext(ctx, producer), i.spanName("process ", job.Queue),
			consumerKind, trace.WithLinks(trace.Link{SpanContext: producer}))
	case producer.IsValid():
		ctx, span = i.tracer.Start(ctx, i.spanName("process ", job.Queue), consumerKind, newRoot,
			trace.WithLinks(trace.Link{SpanContext: producer}))
	default:
		ctx, span = i.tracer.Start(ctx, i.spanName("process ", job.Queue), consumerKind, newRoot)
	}
	if span.IsRecording() {
		span.SetAttributes(attrSystem.String(System), attrOpName.String("process"), attrOpType.String("process"),
			attrDestination.String(job.Queue), AttrKind.String(job.Kind),
			attrMessageID.String(strconv.FormatInt(job.ID, 10)), AttrAttempt.Int(job.Attempt))
	}
	return ctx, span
}

// carries reports whether md holds one of the propagator's fields (a
// traceparent): only then is there a producer span to extract.
func (i *Instrumentation) carries(md map[string]string) bool {
	if len(md) == 0 {
		return false
	}
	for _, f := range i.fields {
		if _, ok := md[f]; ok {
			return true
		}
	}
	return false
}

var (
	consumerKind = trace.WithSpanKind(trace.SpanKindConsumer)
	newRoot      = trace.WithNewRoot()
)

// spanName returns op+dest ("send orders"), made once per name.
func (i *Instrumentation) spanName(op, dest string) string {
	k := attrKey{use: useSpanName, a: op, b: dest}
	if o, ok := i.attrs.load(k); ok {
		return o.name
	}
	return i.attrs.add(k, func() *attrOpts { return &attrOpts{name: op + dest} }).name
}

// endConsumer ends an attempt's consumer span with the outcome the
// handler's result leads to.
func (i *Instrumentation) endConsumer(span trace.Span, job *queue.Job, err error) {
	if span.IsRecording() {
		d := queue.Classify(err, job.Attempt, job.MaxAttempts, nil)
		span.SetAttributes(AttrOutcome.String(d.Outcome.String()))
		if err != nil {
			span.SetAttributes(attrErrorType.String(fmt.Sprintf("%T", err)))
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
}
