package queuetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// metricsArea: queue.MetricsStore, the counts per minute, queue and kind
// with wait histograms that Settle records, and Inspector.Charts.
var metricsArea = area{"Metrics", []testCase{
	{"CountsPerQueueAndKind", testMetricsCounts},
	{"WaitsInBuckets", testMetricsWaits},
	{"OnlyRowsSinceAreRead", testMetricsSince},
	{"PruneRemovesOldRows", testMetricsPrune},
	{"ChartsPerQueueAndKind", testMetricsCharts},
}}

// metricsStore returns the store as a MetricsStore, skipping the case
// when the backend keeps no metrics per kind.
func (e *env) metricsStore() queue.MetricsStore {
	ms, ok := e.store.(queue.MetricsStore)
	if !ok {
		e.t.Skip("backend does not implement queue.MetricsStore: metrics per kind untested")
	}
	return ms
}

// metrics returns the rows since the clock's minute less back, keyed by
// queue and kind (each case settles within one minute).
func (e *env) metrics(back time.Duration) map[[2]string]queue.MinuteMetrics {
	e.t.Helper()
	rows, err := e.metricsStore().Metrics(e.ctx, e.clock.Now().Truncate(time.Minute).Add(-back))
	require.NoError(e.t, err)
	out := map[[2]string]queue.MinuteMetrics{}
	for i, r := range rows {
		if i > 0 {
			p := rows[i-1]
			require.True(e.t, p.Minute.Before(r.Minute) || p.Minute.Equal(r.Minute) && (p.Queue < r.Queue || p.Queue == r.Queue && p.Kind < r.Kind),
				"rows by minute, queue, kind")
		}
		k := [2]string{r.Queue, r.Kind}
		_, dup := out[k]
		require.False(e.t, dup, "one row per minute, queue and kind: %v", k)
		out[k] = r
	}
	return out
}

// leaseKind enqueues n jobs of kind in queue name, leases them and returns
// them.
func (e *env) leaseKind(name, kind string, n int) []*queue.Job {
	e.t.Helper()
	for range n {
		e.enqueue(queue.NewJob{Kind: kind, Queue: name})
	}
	jobs := e.lease(name, n)
	require.Len(e.t, jobs, n)
	return jobs
}

// Settles count per queue and kind: completions (in a batch of only
// completions, which a backend may settle on a fast path, and mixed with
// other outcomes), retries as failed, deaths as dead and failed; snoozes
// count no outcome but their wait; lease-lost settles count nothing. The
// throughput of Stats stays the sum over queues and kinds.
func testMetricsCounts(e *env) {
	e.metricsStore()
	e.clock.Set(t0.Add(10 * time.Second))
	fast := e.leaseKind("a", "mail", 3)
	var batch []queue.Settlement
	for _, j := range fast {
		batch = append(batch, settlement(j, queue.OutcomeComplete))
	}
	for _, err := range e.settle(batch...) {
		require.NoError(e.t, err)
	}

	mixed := e.leaseKind("a", "mail", 2)
	mixed = append(mixed, e.leaseKind("a", "sms", 2)...)
	mixed = append(mixed, e.leaseKind("b", "mail", 2)...)
	boom := &queue.AttemptError{Message: "boom"}
	outcomes := []queue.Outcome{queue.OutcomeComplete, queue.OutcomeRetry, queue.OutcomeDead, queue.OutcomeSnooze, queue.OutcomeComplete, queue.OutcomeComplete}
	batch = batch[:0]
	for i, j := range mixed {
		s := settlement(j, outcomes[i])
		switch s.Outcome {
		case queue.OutcomeRetry, queue.OutcomeDead:
			s.Error, s.Reason = boom, "failed"
		}
		if s.Outcome != queue.OutcomeComplete {
			s.RunAt = e.clock.Now().Add(time.Hour)
		}
		batch = append(batch, s)
	}
	lost := settlement(mixed[0], queue.OutcomeComplete) // settled above: its lease is gone
	batch = append(batch, lost)
	errs := e.settle(batch...)
	for _, err := range errs[:len(mixed)] {
		require.NoError(e.t, err)
	}
	require.ErrorIs(e.t, errs[len(mixed)], queue.ErrLeaseLost)

	m := e.metrics(0)
	require.Len(e.t, m, 3, "rows: a/mail, a/sms, b/mail")
	am, as, bm := m[[2]string{"a", "mail"}], m[[2]string{"a", "sms"}], m[[2]string{"b", "mail"}]
	require.True(e.t, am.Minute.Equal(t0), "the settles' minute, %s", am.Minute)
	require.Equal(e.t, [3]int{4, 1, 0}, [3]int{am.Completed, am.Failed, am.Dead}, "a/mail: 3 fast + 1 completed, 1 retried")
	require.Equal(e.t, int64(5), am.Wait.Count(), "a/mail: every settled attempt's wait")
	require.Equal(e.t, [3]int{0, 1, 1}, [3]int{as.Completed, as.Failed, as.Dead}, "a/sms: 1 dead with an error, 1 snoozed")
	require.Equal(e.t, int64(2), as.Wait.Count(), "a/sms: the snooze's wait counts")
	require.Equal(e.t, [3]int{2, 0, 0}, [3]int{bm.Completed, bm.Failed, bm.Dead})
	require.Equal(e.t, int64(2), bm.Wait.Count())

	st, err := e.store.Stats(e.ctx, e.clock.Now())
	require.NoError(e.t, err)
	last := st.Throughput[len(st.Throughput)-1]
	require.Equal(e.t, [3]int{6, 2, 1}, [3]int{last.Completed, last.Failed, last.Dead}, "Stats sums queues and kinds")
}

// An attempt's wait is its start minus its due time (Job.Waited of the
// leased job: the lease keeps RunAt the due time), counted in its bucket,
// for a retry and a snooze too.
func testMetricsWaits(e *env) {
	e.metricsStore()
	e.clock.Set(t0)
	e.enqueue(queue.NewJob{Kind: "w", Queue: "q", RunAt: t0.Add(-3 * time.Second)})        // (2.5s, 5s]: bucket 9
	e.enqueue(queue.NewJob{Kind: "w", Queue: "q", RunAt: t0.Add(-200 * time.Millisecond)}) // (100ms, 250ms]: bucket 5
	e.enqueue(queue.NewJob{Kind: "w", Queue: "q", RunAt: t0.Add(-2 * time.Minute)})        // (1m, 5m]: bucket 13
	e.enqueue(queue.NewJob{Kind: "w", Queue: "q", RunAt: t0.Add(-2 * time.Hour)})          // above 30m: bucket 15
	jobs := e.lease("q", 4)
	require.Len(e.t, jobs, 4)
	waits := map[time.Duration]bool{}
	var batch []queue.Settlement
	for i, j := range jobs {
		waits[j.Waited()] = true
		o := []queue.Outcome{queue.OutcomeComplete, queue.OutcomeRetry, queue.OutcomeSnooze, queue.OutcomeComplete}[i]
		s := settlement(j, o)
		if o != queue.OutcomeComplete {
			s.RunAt = t0.Add(time.Minute)
			s.Error = &queue.AttemptError{Message: "again"}
		}
		batch = append(batch, s)
	}
	require.Equal(e.t, map[time.Duration]bool{3 * time.Second: true, 200 * time.Millisecond: true, 2 * time.Minute: true, 2 * time.Hour: true}, waits,
		"Waited of a leased job is its start minus its due time")
	for _, err := range e.settle(batch...) {
		require.NoError(e.t, err)
	}
	// A settlement that says its wait directly counts it as given.
	e.enqueue(queue.NewJob{Kind: "w", Queue: "q"})
	s := settlement(e.leaseOne("q"), queue.OutcomeComplete)
	s.Wait = 40 * time.Second // (30s, 1m]: bucket 12
	require.NoError(e.t, e.settle(s)[0])

	w := e.metrics(0)[[2]string{"q", "w"}].Wait
	require.Equal(e.t, queue.WaitHistogram{5: 1, 9: 1, 12: 1, 13: 1, 15: 1}, w)
	require.Equal(e.t, 45*time.Second, w.Quantile(0.5), "rank 2.5 of 5: the middle of bucket (30s, 1m]")
}

// Metrics reads the minutes at or after since only.
func testMetricsSince(e *env) {
	e.metricsStore()
	e.clock.Set(t0.Add(5 * time.Second))
	for _, j := range e.leaseKind("q", "old", 1) {
		require.NoError(e.t, e.settle(settlement(j, queue.OutcomeComplete))[0])
	}
	e.clock.Advance(61 * time.Minute)
	for _, j := range e.leaseKind("q", "new", 2) {
		require.NoError(e.t, e.settle(settlement(j, queue.OutcomeComplete))[0])
	}
	m := e.metrics(59 * time.Minute)
	require.Len(e.t, m, 1, "the row of an hour and a minute ago is left out")
	require.Equal(e.t, 2, m[[2]string{"q", "new"}].Completed)
	require.Len(e.t, e.metrics(61*time.Minute), 2, "an earlier since reads it")
	c, err := e.q.Inspector().Charts(e.ctx, queue.ChartsOptions{})
	require.NoError(e.t, err)
	require.Len(e.t, c.Kinds, 1, "Charts shows the last hour")
	require.Equal(e.t, "new", c.Kinds[0].Name)
}

// Prune's MetricsBefore deletes the rows of earlier minutes, waits too.
func testMetricsPrune(e *env) {
	e.metricsStore()
	e.clock.Set(t0)
	for _, j := range e.leaseKind("q", "k", 2) {
		require.NoError(e.t, e.settle(settlement(j, queue.OutcomeComplete))[0])
	}
	e.clock.Advance(2 * time.Minute)
	for _, j := range e.leaseKind("q", "k", 1) {
		require.NoError(e.t, e.settle(settlement(j, queue.OutcomeComplete))[0])
	}
	_, err := e.store.Prune(e.ctx, queue.PruneParams{MetricsBefore: e.clock.Now().Truncate(time.Minute), Limit: 100})
	require.NoError(e.t, err)
	rows, err := e.metricsStore().Metrics(e.ctx, t0.Add(-time.Hour))
	require.NoError(e.t, err)
	require.Len(e.t, rows, 1, "only the current minute's row stays")
	require.True(e.t, rows[0].Minute.Equal(e.clock.Now().Truncate(time.Minute)))
	require.Equal(e.t, 1, rows[0].Completed)
	require.Equal(e.t, int64(1), rows[0].Wait.Count())
}

// Inspector.Charts sums per queue and per kind by minute, estimates wait
// quantiles from the buckets, joins each queue's oldest pending job,
// filters by queue or kind and keeps the busiest Top.
func testMetricsCharts(e *env) {
	e.metricsStore()
	e.clock.Set(t0.Add(30 * time.Second))
	settleAll := func(jobs []*queue.Job, o queue.Outcome) {
		for _, j := range jobs {
			s := settlement(j, o)
			if o != queue.OutcomeComplete {
				s.Error, s.RunAt = &queue.AttemptError{Message: "x"}, e.clock.Now().Add(time.Hour)
			}
			require.NoError(e.t, e.settle(s)[0])
		}
	}
	settleAll(e.leaseKind("a", "mail", 3), queue.OutcomeComplete)
	e.clock.Advance(time.Minute)
	settleAll(e.leaseKind("a", "sms", 2), queue.OutcomeRetry)
	settleAll(e.leaseKind("b", "mail", 1), queue.OutcomeComplete)
	e.enqueue(queue.NewJob{Kind: "mail", Queue: "b", RunAt: e.clock.Now().Add(-90 * time.Second)})
	e.enqueue(queue.NewJob{Kind: "mail", Queue: "idle", RunAt: e.clock.Now().Add(-10 * time.Second)})

	c, err := e.q.Inspector().Charts(e.ctx, queue.ChartsOptions{})
	require.NoError(e.t, err)
	require.True(e.t, c.Tracked)
	require.Len(e.t, c.Minutes, 60)
	require.True(e.t, c.Minutes[59].Equal(t0.Add(time.Minute)))
	names := func(ss []queue.ChartSeries) (out []string) {
		for _, s := range ss {
			out = append(out, s.Name)
		}
		return out
	}
	require.Equal(e.t, []string{"a", "b", "idle"}, names(c.Queues), "busiest first; a queue with pending jobs shows")
	require.Equal(e.t, []string{"mail", "sms"}, names(c.Kinds))
	a, b, idle := c.Queues[0], c.Queues[1], c.Queues[2]
	require.Equal(e.t, 3, a.Points[58].Completed)
	require.Equal(e.t, 2, a.Points[59].Failed)
	require.Equal(e.t, [3]int{3, 2, 0}, [3]int{a.Completed, a.Failed, a.Dead})
	require.Equal(e.t, int64(5), a.Attempts)
	require.Equal(e.t, 90*time.Second, b.OldestPending)
	require.Equal(e.t, 1, b.Pending)
	require.Equal(e.t, 10*time.Second, idle.OldestPending)
	require.Zero(e.t, idle.Attempts)
	mail := c.Kinds[0]
	require.Equal(e.t, 4, mail.Completed, "mail: 3 in a, 1 in b")
	require.Equal(e.t, 3, mail.Points[58].Completed)
	require.Equal(e.t, 1, mail.Points[59].Completed)
	require.Zero(e.t, mail.OldestPending, "kinds carry no pending figures")
	// every wait was zero (leased as soon as due): the first bucket
	require.LessOrEqual(e.t, mail.WaitP99, time.Millisecond)
	require.LessOrEqual(e.t, mail.WaitP50, mail.WaitP99)

	c, err = e.q.Inspector().Charts(e.ctx, queue.ChartsOptions{Kind: "mail"})
	require.NoError(e.t, err)
	require.Equal(e.t, []string{"a", "b"}, names(c.Queues), "filtered by kind: queues with mail attempts")
	require.Equal(e.t, 3, c.Queues[0].Completed)
	c, err = e.q.Inspector().Charts(e.ctx, queue.ChartsOptions{Queue: "a", Top: 1})
	require.NoError(e.t, err)
	require.Equal(e.t, []string{"a"}, names(c.Queues))
	require.Equal(e.t, []string{"mail"}, names(c.Kinds), "Top 1: the busier kind of a")
	require.Equal(e.t, 1, c.KindsOmitted)
	_, err = e.q.Inspector().Charts(e.ctx, queue.ChartsOptions{Top: -1})
	require.ErrorIs(e.t, err, queue.ErrInvalidArgument)
}
