package spoolotel

import (
	"context"
	"errors"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/spooljobs/spool/queue"
)

// Metric names. The messaging.* ones follow OpenTelemetry's semantic
// conventions for messaging; the rest are spool's own.
const (
	MetricSent            = "messaging.client.sent.messages"
	MetricConsumed        = "messaging.client.consumed.messages"
	MetricOperationTime   = "messaging.client.operation.duration"
	MetricProcessTime     = "messaging.process.duration"
	MetricSettled         = "spool.jobs.settled"
	MetricRescued         = "spool.jobs.rescued"
	MetricPublished       = "spool.events.published"
	MetricScheduleFires   = "spool.schedule.fires"
	MetricWait            = "spool.job.wait.duration"
	MetricLeaseBatch      = "spool.lease.batch.size"
	MetricSettleBatch     = "spool.settle.batch.size"
	MetricJobs            = "spool.queue.jobs"
	MetricOldestPending   = "spool.queue.oldest_pending.age"
	MetricPaused          = "spool.queue.paused"
	MetricBlockedKeys     = "spool.queue.blocked_keys"
	MetricStuckKeys       = "spool.queue.stuck_keys"
	MetricBacklog         = "spool.subscription.backlog"
	MetricLag             = "spool.subscription.lag"
	MetricScheduleLastRun = "spool.schedule.last_run"
)

// durationBuckets are the bounds, in seconds, of the duration histograms:
// from a millisecond (a batched commit) to ten minutes (a long job).
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600}

// batchBuckets are the bounds of the batch-size histograms.
var batchBuckets = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}

// instruments are the synchronous instruments.
type instruments struct {
	sent, consumed, settled, rescued, published, fires metric.Int64Counter
	opTime, processTime, wait                          metric.Float64Histogram
	leaseBatch, settleBatch                            metric.Int64Histogram
}

func (m *instruments) make(meter metric.Meter) error {
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := meter.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	seconds := func(name, desc string) metric.Float64Histogram {
		h, err := meter.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(durationBuckets...))
		errs = append(errs, err)
		return h
	}
	batch := func(name, desc string) metric.Int64Histogram {
		h, err := meter.Int64Histogram(name, metric.WithUnit("{job}"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(batchBuckets...))
		errs = append(errs, err)
		return h
	}
	m.sent = counter(MetricSent, "{message}", "Jobs enqueued, by queue, kind and result (inserted, duplicate, refused, error).")
	m.consumed = counter(MetricConsumed, "{message}", "Jobs leased by worker pools, by queue.")
	m.settled = counter(MetricSettled, "{job}", "Attempt outcomes settled by worker pools, by queue, kind and outcome.")
	m.rescued = counter(MetricRescued, "{job}", "Jobs rescued after their lease expired, by queue, kind and outcome (retry, dead).")
	m.published = counter(MetricPublished, "{event}", "Events published, by topic.")
	m.fires = counter(MetricScheduleFires, "{fire}", "Schedule fires, by schedule and fire (tick, skip, trigger).")
	m.opTime = seconds(MetricOperationTime, "Duration of enqueue (send), publish, lease (receive) and settle calls; a settle is one commit.")
	m.processTime = seconds(MetricProcessTime, "Duration of an attempt's handler, by queue, kind and outcome.")
	m.wait = seconds(MetricWait, "How long a job waited past its due time when its attempt started, by queue and kind.")
	m.leaseBatch = batch(MetricLeaseBatch, "Jobs per lease call, by queue.")
	m.settleBatch = batch(MetricSettleBatch, "Outcomes per settle call (one commit).")
	return errors.Join(errs...)
}

// attrKey names one attribute set of one use.
type attrKey struct {
	use     uint8
	a, b, c string
}

// The uses of attribute sets.
const (
	useSent uint8 = iota
	useSendOp
	usePublish
	usePublishOp
	useReceive
	useReceiveOp
	useSettleOp
	useSettled
	useRescued
	useProcess
	useWait
	useFire
	useSpanName
)

// attrCache holds the measurement options of each attribute set used, as
// the slices the instruments take, so that recording a measurement neither
// builds and sorts a set nor allocates nor takes a lock. Its size is the
// labels' cardinality (queues, kinds, outcomes, but also topics,
// subscriptions and schedules, which an app may have many of): a miss
// costs one insertion, whatever the size (a copy of the whole map per
// miss cost 50 s of CPU for the first publishes to 20 000 topics).
type attrCache struct {
	m sync.Map // attrKey → *attrOpts
}

// attrOpts are one attribute set's options for counters and histograms,
// and, for span names, the name.
type attrOpts struct {
	add  []metric.AddOption
	rec  []metric.RecordOption
	name string
}

// get returns the options for k, building them with build the first time.
func (c *attrCache) get(k attrKey, build func() []attribute.KeyValue) *attrOpts {
	if o, ok := c.load(k); ok {
		return o
	}
	return c.add(k, func() *attrOpts {
		set := metric.WithAttributeSet(attribute.NewSet(build()...))
		return &attrOpts{add: []metric.AddOption{set}, rec: []metric.RecordOption{set}}
	})
}

// load returns the value stored under k.
func (c *attrCache) load(k attrKey) (*attrOpts, bool) {
	v, ok := c.m.Load(k)
	if !ok {
		return nil, false
	}
	return v.(*attrOpts), true
}

// add stores the value build returns under k, unless a concurrent miss did
// first, and returns the stored value.
func (c *attrCache) add(k attrKey, build func() *attrOpts) *attrOpts {
	v, _ := c.m.LoadOrStore(k, build())
	return v.(*attrOpts)
}

func (i *Instrumentation) opAttrs(use uint8, op, dest string) *attrOpts {
	return i.attrs.get(attrKey{use: use, a: op, b: dest}, func() []attribute.KeyValue {
		kv := []attribute.KeyValue{attrSystem.String(System), attrOpName.String(op), attrOpType.String(opType(op))}
		if dest != "" {
			kv = append(kv, attrDestination.String(dest))
		}
		return kv
	})
}

// opType is the messaging.operation.type of a spool operation.
func opType(op string) string {
	switch op {
	case "publish":
		return "send"
	}
	return op // send, receive, settle
}

func (i *Instrumentation) queueKindAttrs(use uint8, q, kind, label string, labelKey attribute.Key) *attrOpts {
	return i.attrs.get(attrKey{use: use, a: q, b: kind, c: label}, func() []attribute.KeyValue {
		kv := []attribute.KeyValue{attrSystem.String(System), attrDestination.String(q), AttrKind.String(kind)}
		if labelKey != "" {
			kv = append(kv, labelKey.String(label))
		}
		return kv
	})
}

func (i *Instrumentation) enqueueDone(ctx context.Context, e queue.EnqueueEvent) {
	if !i.noTraces {
		i.endProducer(ctx, e)
	}
	if i.noMetrics || len(e.Jobs) == 0 {
		return
	}
	// One Add per run of jobs with the same labels (a batch usually has one).
	var run attrKey
	count := int64(0)
	for n, j := range e.Jobs {
		q := j.Queue
		if q == "" {
			q = queue.DefaultQueue
		}
		k := attrKey{use: useSent, a: q, b: j.Kind, c: e.EnqueueResultName(n)}
		if count > 0 && k != run {
			i.m.sent.Add(ctx, count, i.queueKindAttrs(useSent, run.a, run.b, run.c, AttrEnqueueResult).add...)
			count = 0
		}
		run = k
		count++
	}
	i.m.sent.Add(ctx, count, i.queueKindAttrs(useSent, run.a, run.b, run.c, AttrEnqueueResult).add...)
	i.m.opTime.Record(ctx, e.Duration.Seconds(), i.opAttrs(useSendOp, "send", jobsQueue(e.Jobs)).rec...)
}

func (i *Instrumentation) publishDone(ctx context.Context, e queue.PublishEvent) {
	if !i.noTraces {
		i.endPublish(ctx, e)
	}
	if i.noMetrics {
		return
	}
	if e.Err == nil {
		i.m.published.Add(ctx, 1, i.attrs.get(attrKey{use: usePublish, a: e.Topic}, func() []attribute.KeyValue {
			return []attribute.KeyValue{attrSystem.String(System), attrDestination.String(e.Topic)}
		}).add...)
	}
	i.m.opTime.Record(ctx, e.Duration.Seconds(), i.opAttrs(usePublishOp, "publish", e.Topic).rec...)
}

func (i *Instrumentation) leased(ctx context.Context, e queue.LeaseEvent) {
	i.m.opTime.Record(ctx, e.Duration.Seconds(), i.opAttrs(useReceiveOp, "receive", e.Queue).rec...)
	if e.Err != nil {
		return
	}
	q := i.attrs.get(attrKey{use: useReceive, a: e.Queue}, func() []attribute.KeyValue {
		return []attribute.KeyValue{attrSystem.String(System), attrDestination.String(e.Queue)}
	})
	i.m.leaseBatch.Record(ctx, int64(len(e.Jobs)), q.rec...)
	if len(e.Jobs) > 0 {
		i.m.consumed.Add(ctx, int64(len(e.Jobs)), q.add...)
	}
}

func (i *Instrumentation) runStart(ctx context.Context, e queue.RunStartEvent) {
	i.m.wait.Record(ctx, e.Wait.Seconds(), i.queueKindAttrs(useWait, e.Job.Queue, e.Job.Kind, "", "").rec...)
}

func (i *Instrumentation) runEnd(ctx context.Context, e queue.RunEndEvent) {
	outcome := "lease_lost"
	if !e.LeaseLost {
		outcome = e.Outcome.String()
	}
	i.m.processTime.Record(ctx, e.Duration.Seconds(), i.queueKindAttrs(useProcess, e.Job.Queue, e.Job.Kind, outcome, AttrOutcome).rec...)
}

func (i *Instrumentation) settled(ctx context.Context, e queue.SettleEvent) {
	i.m.opTime.Record(ctx, e.Duration.Seconds(), i.opAttrs(useSettleOp, "settle", "").rec...)
	i.m.settleBatch.Record(ctx, int64(len(e.Settlements)), i.opAttrs(useSettleOp, "settle", "").rec...)
	// One Add per run of settlements with the same labels.
	var run attrKey
	count := int64(0)
	for n, s := range e.Settlements {
		kind := ""
		if n < len(e.Kinds) {
			kind = e.Kinds[n]
		}
		k := attrKey{use: useSettled, a: s.Queue, b: kind, c: e.SettlementOutcomeName(n)}
		if count > 0 && k != run {
			i.m.settled.Add(ctx, count, i.queueKindAttrs(useSettled, run.a, run.b, run.c, AttrOutcome).add...)
			count = 0
		}
		run = k
		count++
	}
	if count > 0 {
		i.m.settled.Add(ctx, count, i.queueKindAttrs(useSettled, run.a, run.b, run.c, AttrOutcome).add...)
	}
}

func (i *Instrumentation) rescued(ctx context.Context, e queue.RescueEvent) {
	i.m.rescued.Add(ctx, 1, i.queueKindAttrs(useRescued, e.Job.Queue, e.Job.Kind, e.Outcome.String(), AttrOutcome).add...)
}

func (i *Instrumentation) scheduleFired(ctx context.Context, e queue.ScheduleFireEvent) {
	fire := "tick"
	switch {
	case !e.Fire.Trigger.IsZero():
		fire = "trigger"
	case e.Fire.Skip:
		fire = "skip"
	}
	i.m.fires.Add(ctx, 1, i.attrs.get(attrKey{use: useFire, a: e.Schedule, b: fire}, func() []attribute.KeyValue {
		return []attribute.KeyValue{attrSystem.String(System), AttrSchedule.String(e.Schedule), AttrFire.String(fire)}
	}).add...)
}

// jobsQueue is the queue of an enqueue call's jobs: the first job's (the
// usual call enqueues into one queue).
func jobsQueue(jobs []queue.NewJob) string {
	if len(jobs) == 0 || jobs[0].Queue == "" {
		return queue.DefaultQueue
	}
	return jobs[0].Queue
}
