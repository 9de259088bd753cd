package spoolotel_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
	"github.com/spooljobs/spool/spoolotel"
	"github.com/spooljobs/spool/worker"
)

// TestMetricsAfterKnownWorkload runs a known workload through a real store,
// pool, scheduler and rescuer, reads the metrics with the SDK's
// ManualReader and checks every number: counts per result and outcome,
// histogram counts and sums, and the gauges read at collection.
func TestMetricsAfterKnownWorkload(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	inst, err := spoolotel.New(spoolotel.Options{
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		TracerProvider: tracenoop.NewTracerProvider(),
	})
	require.NoError(t, err)
	e := newEnv(t, inst.Observer())
	_, err = inst.ObserveQueue(e.q)
	require.NoError(t, err)
	in := e.q.Inspector()

	// Queue "work": 3 "ok" (one unique, enqueued twice), 2 "flaky" with 2
	// attempts each, 1 "nap" that snoozes once: 3+4+2 = 9 attempts.
	e.enqueue(queue.NewJob{Kind: "ok", Queue: "work"})
	e.enqueue(queue.NewJob{Kind: "ok", Queue: "work"})
	first := e.enqueue(queue.NewJob{Kind: "ok", Queue: "work", UniqueKey: "u1"})
	dup := e.enqueue(queue.NewJob{Kind: "ok", Queue: "work", UniqueKey: "u1"})
	require.True(t, dup.Duplicate)
	require.Equal(t, first.ID, dup.ID)
	e.enqueue(queue.NewJob{Kind: "flaky", Queue: "work", MaxAttempts: 2})
	e.enqueue(queue.NewJob{Kind: "flaky", Queue: "work", MaxAttempts: 2})
	e.enqueue(queue.NewJob{Kind: "nap", Queue: "work"})
	// Queue "full" holds one job: the second is refused.
	require.NoError(t, in.SetQueueSettings(e.ctx, "full", queue.QueueSettings{MaxPending: 1}))
	e.enqueue(queue.NewJob{Kind: "x", Queue: "full"})
	_, err = e.q.Enqueue(e.ctx, queue.NewJob{Kind: "x", Queue: "full"})
	var full *queue.QueueFullError
	require.ErrorAs(t, err, &full)
	// Queue "held" is paused with two jobs.
	require.NoError(t, in.Pause(e.ctx, "held"))
	e.enqueue(queue.NewJob{Kind: "h", Queue: "held"})
	e.enqueue(queue.NewJob{Kind: "h", Queue: "held"})
	// Two events for a subscription nobody works: its lag is 2.
	require.NoError(t, e.q.Topics().Subscribe(e.ctx, queue.Subscription{Name: "audit", Pattern: "orders.#", Queue: "audit", Kind: "audit.log"}))
	for range 2 {
		_, err := e.q.Publish(e.ctx, queue.Event{Topic: "orders.created", Args: map[string]int{"order": 1}})
		require.NoError(t, err)
	}
	// A schedule triggered once.
	sched, err := schedule.New(e.q, schedule.Options{})
	require.NoError(t, err)
	require.NoError(t, sched.Add(schedule.Entry{Name: "nightly", Spec: "@daily", Job: queue.NewJob{Kind: "report", Queue: "reports"}}))
	_, err = sched.RunOnce(e.ctx)
	require.NoError(t, err)
	triggeredAt := e.clock.Now()
	require.NoError(t, sched.Trigger(e.ctx, "nightly"))
	_, err = sched.RunOnce(e.ctx)
	require.NoError(t, err)

	e.run(newWorkload(), 9)

	// A job whose worker died: leased and never settled, then rescued.
	e.enqueue(queue.NewJob{Kind: "lost", Queue: "orphan"})
	now := e.clock.Now()
	res, err := e.store.Lease(e.ctx, queue.LeaseParams{Queue: "orphan", Limit: 1, Now: now, Until: now.Add(time.Second), Worker: "gone"})
	require.NoError(t, err)
	require.Len(t, res.Jobs, 1)
	e.clock.Advance(2 * time.Second)
	rescuer, err := worker.New(e.q, worker.Options{Monotonic: e.clock.Monotonic})
	require.NoError(t, err)
	n, err := rescuer.Rescue(e.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(e.ctx, &rm))
	m := metricsByName(rm)

	sent := func(q, kind, result string) int64 {
		return sumInt(t, m, spoolotel.MetricSent, "messaging.destination.name", q, "spool.job.kind", kind, "spool.enqueue.result", result)
	}
	require.EqualValues(t, 3, sent("work", "ok", "inserted"))
	require.EqualValues(t, 1, sent("work", "ok", "duplicate"))
	require.EqualValues(t, 2, sent("work", "flaky", "inserted"))
	require.EqualValues(t, 1, sent("work", "nap", "inserted"))
	require.EqualValues(t, 1, sent("full", "x", "inserted"))
	require.EqualValues(t, 1, sent("full", "x", "refused"))
	require.EqualValues(t, 2, sent("held", "h", "inserted"))
	require.EqualValues(t, 1, sent("reports", "report", "inserted"), "the schedule's job")
	require.EqualValues(t, 1, sent("orphan", "lost", "inserted"))
	require.EqualValues(t, 13, sumInt(t, m, spoolotel.MetricSent), "nothing else was counted")

	settled := func(kind, outcome string) int64 {
		return sumInt(t, m, spoolotel.MetricSettled, "messaging.destination.name", "work", "spool.job.kind", kind, "spool.outcome", outcome)
	}
	require.EqualValues(t, 3, settled("ok", "complete"))
	require.EqualValues(t, 2, settled("flaky", "retry"))
	require.EqualValues(t, 2, settled("flaky", "dead"))
	require.EqualValues(t, 1, settled("nap", "snooze"))
	require.EqualValues(t, 1, settled("nap", "complete"))
	require.EqualValues(t, 9, sumInt(t, m, spoolotel.MetricSettled))

	require.EqualValues(t, 1, sumInt(t, m, spoolotel.MetricRescued, "messaging.destination.name", "orphan", "spool.job.kind", "lost", "spool.outcome", "retry"))
	require.EqualValues(t, 1, sumInt(t, m, spoolotel.MetricRescued))
	require.EqualValues(t, 2, sumInt(t, m, spoolotel.MetricPublished, "messaging.destination.name", "orders.created"))
	require.EqualValues(t, 1, sumInt(t, m, spoolotel.MetricScheduleFires, "spool.schedule", "nightly", "spool.schedule.fire", "trigger"))
	require.EqualValues(t, 9, sumInt(t, m, spoolotel.MetricConsumed, "messaging.destination.name", "work"))

	// Histograms: one run and one wait per attempt; the lease and settle
	// batches add up to the attempts.
	require.EqualValues(t, 9, histCount(t, m, spoolotel.MetricProcessTime))
	require.EqualValues(t, 2, histCount(t, m, spoolotel.MetricProcessTime, "spool.job.kind", "flaky", "spool.outcome", "retry"))
	require.EqualValues(t, 9, histCount(t, m, spoolotel.MetricWait))
	require.EqualValues(t, 9, histSum(t, m, spoolotel.MetricLeaseBatch, "messaging.destination.name", "work"))
	require.EqualValues(t, 9, histSum(t, m, spoolotel.MetricSettleBatch))
	require.EqualValues(t, histCount(t, m, spoolotel.MetricSettleBatch),
		histCount(t, m, spoolotel.MetricOperationTime, "messaging.operation.name", "settle"), "one commit duration per settle batch")
	require.EqualValues(t, 13, histCount(t, m, spoolotel.MetricOperationTime, "messaging.operation.name", "send"), "one per enqueue call (the refused one too)")
	require.EqualValues(t, 2, histCount(t, m, spoolotel.MetricOperationTime, "messaging.operation.name", "publish"))

	// Gauges, read from the store at collection.
	jobs := func(q string, s queue.State) int64 {
		return gaugeInt(t, m, spoolotel.MetricJobs, "messaging.destination.name", q, "spool.job.state", string(s))
	}
	require.EqualValues(t, 2, jobs("work", queue.StateDead))
	require.EqualValues(t, 0, jobs("work", queue.StatePending))
	require.EqualValues(t, 2, jobs("held", queue.StatePending))
	require.EqualValues(t, 1, jobs("full", queue.StatePending))
	require.EqualValues(t, 2, jobs("audit", queue.StatePending))
	require.EqualValues(t, 1, jobs("orphan", queue.StateScheduled), "rescued, waiting for its backoff")
	require.EqualValues(t, 1, gaugeInt(t, m, spoolotel.MetricPaused, "messaging.destination.name", "held"))
	require.EqualValues(t, 0, gaugeInt(t, m, spoolotel.MetricPaused, "messaging.destination.name", "work"))
	require.Equal(t, (2 * time.Second).Seconds(), gaugeFloat(t, m, spoolotel.MetricOldestPending, "messaging.destination.name", "held"))
	require.EqualValues(t, 2, gaugeInt(t, m, spoolotel.MetricLag, "spool.subscription", "audit"))
	require.EqualValues(t, 0, gaugeInt(t, m, spoolotel.MetricBacklog, "spool.subscription", "audit"))
	require.Equal(t, float64(triggeredAt.UnixMicro())/1e6, gaugeFloat(t, m, spoolotel.MetricScheduleLastRun, "spool.schedule", "nightly"))
}

// TestObserveQueueReadFails checks that a collection whose store read
// fails reports the error and no stale gauge values.
func TestObserveQueueReadFails(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	inst, err := spoolotel.New(spoolotel.Options{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	require.NoError(t, err)
	e := newEnv(t, inst.Observer())
	e.enqueue(queue.NewJob{Kind: "k"})
	reg, err := inst.ObserveQueue(e.q)
	require.NoError(t, err)
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(e.ctx, &rm))
	require.EqualValues(t, 1, gaugeInt(t, metricsByName(rm), spoolotel.MetricJobs, "spool.job.state", "pending"))

	require.NoError(t, e.store.Close())
	rm = metricdata.ResourceMetrics{}
	err = reader.Collect(e.ctx, &rm)
	require.ErrorContains(t, err, "spoolotel: read stats")
	_, ok := metricsByName(rm)[spoolotel.MetricJobs]
	require.False(t, ok, "no gauge from a failed read")

	require.NoError(t, reg.Unregister())
	_, err = inst.ObserveQueue(nil)
	require.Error(t, err)
}

// metricsByName indexes the collected metrics by name.
func metricsByName(rm metricdata.ResourceMetrics) map[string]metricdata.Metrics {
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// matches reports whether set has every key-value pair of kv (key, value,
// key, value ...).
func matches(set attribute.Set, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		v, ok := set.Value(attribute.Key(kv[i]))
		if !ok || v.Emit() != kv[i+1] {
			return false
		}
	}
	return true
}

func sumInt(t *testing.T, m map[string]metricdata.Metrics, name string, kv ...string) int64 {
	t.Helper()
	d, ok := m[name]
	require.True(t, ok, "metric %s missing", name)
	sum, ok := d.Data.(metricdata.Sum[int64])
	require.True(t, ok, "metric %s is %T", name, d.Data)
	var n int64
	for _, p := range sum.DataPoints {
		if matches(p.Attributes, kv) {
			n += p.Value
		}
	}
	return n
}

func histCount(t *testing.T, m map[string]metricdata.Metrics, name string, kv ...string) uint64 {
	t.Helper()
	d, ok := m[name]
	require.True(t, ok, "metric %s missing", name)
	var n uint64
	switch h := d.Data.(type) {
	case metricdata.Histogram[float64]:
		for _, p := range h.DataPoints {
			if matches(p.Attributes, kv) {
				n += p.Count
			}
		}
	case metricdata.Histogram[int64]:
		for _, p := range h.DataPoints {
			if matches(p.Attributes, kv) {
				n += p.Count
			}
		}
	default:
		t.Fatalf("metric %s is %T", name, d.Data)
	}
	return n
}

func histSum(t *testing.T, m map[string]metricdata.Metrics, name string, kv ...string) int64 {
	t.Helper()
	h, ok := m[name].Data.(metricdata.Histogram[int64])
	require.True(t, ok, "metric %s is %T", name, m[name].Data)
	var n int64
	for _, p := range h.DataPoints {
		if matches(p.Attributes, kv) {
			n += p.Sum
		}
	}
	return n
}

func gaugeInt(t *testing.T, m map[string]metricdata.Metrics, name string, kv ...string) int64 {
	t.Helper()
	g, ok := m[name].Data.(metricdata.Gauge[int64])
	require.True(t, ok, "metric %s is %T", name, m[name].Data)
	for _, p := range g.DataPoints {
		if matches(p.Attributes, kv) {
			return p.Value
		}
	}
	t.Fatalf("metric %s has no point %v", name, kv)
	return 0
}

func gaugeFloat(t *testing.T, m map[string]metricdata.Metrics, name string, kv ...string) float64 {
	t.Helper()
	g, ok := m[name].Data.(metricdata.Gauge[float64])
	require.True(t, ok, "metric %s is %T", name, m[name].Data)
	for _, p := range g.DataPoints {
		if matches(p.Attributes, kv) {
			return p.Value
		}
	}
	t.Fatalf("metric %s has no point %v", name, kv)
	return 0
}
