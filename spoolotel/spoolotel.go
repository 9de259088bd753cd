package spoolotel

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/spooljobs/spool/queue"
)

// ScopeName is the instrumentation scope of the meter and tracer.
const ScopeName = "github.com/spooljobs/spool/spoolotel"

// System is the value of the messaging.system attribute on every metric
// and span.
const System = "spool"

// Options configure an Instrumentation. The zero value is ready to use.
type Options struct {
	// MeterProvider makes the meter. Defaults to otel.GetMeterProvider()
	// (the global one; a no-op until the app sets one).
	MeterProvider metric.MeterProvider
	// TracerProvider makes the tracer. Defaults to
	// otel.GetTracerProvider() (the global one; a no-op until the app sets
	// one).
	TracerProvider trace.TracerProvider
	// Propagator writes a producer span's context into a job's metadata
	// and reads it back in the consumer. Defaults to W3C trace context
	// (propagation.TraceContext: the keys "traceparent" and "tracestate").
	Propagator propagation.TextMapPropagator
	// ChildOfProducer makes each consumer span a child of the producer
	// span in the job's metadata, so that a job's attempts appear in the
	// producer's trace. By default (false) a consumer span starts a trace
	// of its own and links to the producer span, as OpenTelemetry's
	// messaging conventions advise for work that may run much later.
	ChildOfProducer bool
	// ReadTimeout bounds the store reads of one collection of the gauges
	// (ObserveQueue). Defaults to 5s.
	ReadTimeout time.Duration
}

// Instrumentation turns spool's instrumentation hook (queue.Observer) into
// OpenTelemetry metrics and spans. Make one with New, put its Observer in
// queue.Options.Observer, wrap worker pools' handlers in its Middleware,
// and register the gauges of a queue with ObserveQueue. It is safe for
// concurrent use.
type Instrumentation struct {
	opts   Options
	meter  metric.Meter
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	fields []string // the propagator's metadata keys
	// noMetrics and noTraces are set when the provider is OpenTelemetry's
	// no-op one: the Observer then leaves out what would be thrown away.
	noMetrics, noTraces bool
	m                   instruments
	attrs               attrCache // attribute sets and span names
}

// New returns an Instrumentation with its instruments made on the
// meter provider's meter.
func New(opts Options) (*Instrumentation, error) {
	if opts.MeterProvider == nil {
		opts.MeterProvider = otel.GetMeterProvider()
	}
	if opts.TracerProvider == nil {
		opts.TracerProvider = otel.GetTracerProvider()
	}
	if opts.Propagator == nil {
		opts.Propagator = propagation.TraceContext{}
	}
	switch {
	case opts.ReadTimeout == 0:
		opts.ReadTimeout = 5 * time.Second
	case opts.ReadTimeout < 0:
		return nil, fmt.Errorf("spoolotel: Options.ReadTimeout %s is negative", opts.ReadTimeout)
	}
	i := &Instrumentation{
		opts:   opts,
		meter:  opts.MeterProvider.Meter(ScopeName),
		tracer: opts.TracerProvider.Tracer(ScopeName),
		prop:   opts.Propagator,
		fields: opts.Propagator.Fields(),
	}
	_, i.noMetrics = opts.MeterProvider.(metricnoop.MeterProvider)
	_, i.noTraces = opts.TracerProvider.(tracenoop.TracerProvider)
	if err := i.m.make(i.meter); err != nil {
		return nil, err
	}
	return i, nil
}

// Observer returns the hook to set as queue.Options.Observer: it records
// the metrics, and the producer spans of enqueues and publishes whose
// trace context it adds to the jobs' metadata. On OpenTelemetry's no-op
// meter provider (go.opentelemetry.io/otel/metric/noop) it leaves the
// metrics' functions out, and on the no-op tracer provider the spans'.
func (i *Instrumentation) Observer() *queue.Observer {
	o := &queue.Observer{}
	if !i.noTraces {
		o.EnqueueStart, o.PublishStart = i.enqueueStart, i.publishStart
	}
	if !i.noTraces || !i.noMetrics {
		o.EnqueueDone, o.PublishDone = i.enqueueDone, i.publishDone
	}
	if !i.noMetrics {
		o.Leased, o.RunStart, o.RunEnd, o.Settled = i.leased, i.runStart, i.runEnd, i.settled
		o.Rescued, o.ScheduleFired = i.rescued, i.scheduleFired
	}
	return o
}

// Attribute keys beyond OpenTelemetry's messaging conventions.
const (
	// AttrKind is a job's kind.
	AttrKind = attribute.Key("spool.job.kind")
	// AttrOutcome is an attempt's or a settlement's outcome: complete,
	// retry, snooze, dead, cancel, release, lease_lost, error.
	AttrOutcome = attribute.Key("spool.outcome")
	// AttrEnqueueResult is a job's enqueue result: inserted, duplicate,
	// refused (queue full), error.
	AttrEnqueueResult = attribute.Key("spool.enqueue.result")
	// AttrState is a job state (queue.State).
	AttrState = attribute.Key("spool.job.state")
	// AttrSubscription names a subscription.
	AttrSubscription = attribute.Key("spool.subscription")
	// AttrSchedule names a schedule.
	AttrSchedule = attribute.Key("spool.schedule")
	// AttrFire is what a schedule's fire was: tick, skip or trigger.
	AttrFire = attribute.Key("spool.schedule.fire")
	// AttrAttempt is the attempt number of a consumer span.
	AttrAttempt = attribute.Key("spool.job.attempt")
)

// OpenTelemetry's messaging attribute keys used here.
const (
	attrSystem      = attribute.Key("messaging.system")
	attrDestination = attribute.Key("messaging.destination.name")
	attrOpName      = attribute.Key("messaging.operation.name")
	attrOpType      = attribute.Key("messaging.operation.type")
	attrMessageID   = attribute.Key("messaging.message.id")
	attrBatchCount  = attribute.Key("messaging.batch.message_count")
	attrErrorType   = attribute.Key("error.type")
)

var errNilQueue = errors.New("spoolotel: queue is nil")
