package queue

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MetricsStore is implemented by stores that count settled attempts per
// minute, queue and kind (completed, failed, dead, and a histogram of the
// attempts' waits, Settlement.Wait) as Settle records them, for the charts
// of Inspector.Charts. Prune's MetricsBefore removes old rows.
type MetricsStore interface {
	// Metrics returns the rows of minutes at or after since (a whole
	// minute), ordered by minute, queue, then kind.
	Metrics(ctx context.Context, since time.Time) ([]MinuteMetrics, error)
}

// MinuteMetrics is one row of a MetricsStore: the attempts of one queue
// and kind settled in one minute.
type MinuteMetrics struct {
	// Minute is the minute's start.
	Minute time.Time
	Queue  string
	// Kind is the jobs' kind; empty for attempts whose settlement did not
	// say (counted before kinds were recorded, or by a direct Settle call).
	Kind string
	// Completed, Failed and Dead count as Settlement.Counts says.
	Completed, Failed, Dead int
	// Wait counts every settled attempt's wait, whatever its outcome.
	Wait WaitHistogram
}

// ChartsOptions selects what Inspector.Charts returns. The zero value
// charts every queue and kind, the busiest DefaultChartsTop of each.
type ChartsOptions struct {
	// Queue and Kind, when set, keep only the attempts of that queue and
	// of that kind.
	Queue, Kind string
	// Top caps the series returned per list (queues, kinds) to the busiest
	// ones by attempts, then pending jobs. Defaults to DefaultChartsTop.
	Top int
}

// DefaultChartsTop is the default of ChartsOptions.Top.
const DefaultChartsTop = 8

// Charts is the last hour per queue and per kind, for an operator's
// charts.
type Charts struct {
	// Minutes are the hour's minutes, oldest first (60, the last the
	// current one): each series' Points come in this order.
	Minutes []time.Time
	// Queues are the busiest queues (by attempts in the hour, then
	// counted outcomes, pending jobs, then name), at most Top; QueuesOmitted counts the others.
	Queues        []ChartSeries
	QueuesOmitted int
	// Kinds are the busiest kinds likewise; KindsOmitted counts the others.
	Kinds        []ChartSeries
	KindsOmitted int
	// Tracked reports that the store records metrics per kind
	// (MetricsStore); without it only the queues' pending jobs show.
	Tracked bool
}

// ChartSeries is the hour of one queue or one kind.
type ChartSeries struct {
	Name string
	// Points holds one entry per minute of Charts.Minutes.
	Points []ChartPoint
	// Completed, Failed and Dead sum the hour; Attempts counts the settled
	// attempts whose wait was counted (every outcome).
	Completed, Failed, Dead int
	Attempts                int64
	// WaitP50 and WaitP99 estimate the median and 99th percentile of the
	// hour's waits (run start minus due time). They are interpolated
	// inside the fixed buckets of WaitHistogram, so they are estimates
	// within one bucket of the true value.
	WaitP50, WaitP99 time.Duration
	// Pending and OldestPending (how long the oldest ready job has waited
	// past its run time) are the queue's now, from Stats; zero for kinds.
	Pending       int
	OldestPending time.Duration

	wait WaitHistogram
}

// ChartPoint is one minute of a series. WaitP50 and WaitP99 are bucket
// estimates as ChartSeries says, zero in a minute without attempts.
type ChartPoint struct {
	Completed, Failed, Dead int
	Attempts                int64
	WaitP50, WaitP99        time.Duration
	wait                    WaitHistogram
}

// Charts returns the last hour's throughput and wait times per queue and
// per kind, and each queue's pending jobs and oldest pending job, from a
// MetricsStore's rows and Stats. It aggregates in Go: the rows are at most
// minutes × queues × kinds.
func (in *Inspector) Charts(ctx context.Context, o ChartsOptions) (*Charts, error) {
	if o.Top < 0 {
		return nil, fmt.Errorf("%w: Charts: Top %d is negative", ErrInvalidArgument, o.Top)
	}
	if o.Top == 0 {
		o.Top = DefaultChartsTop
	}
	now := in.q.opts.Now()
	start := now.Truncate(time.Minute).Add(-59 * time.Minute)
	c := &Charts{Minutes: make([]time.Time, 60)}
	for i := range c.Minutes {
		c.Minutes[i] = start.Add(time.Duration(i) * time.Minute)
	}
	var rows []MinuteMetrics
	if ms, ok := in.q.store.(MetricsStore); ok {
		c.Tracked = true
		var err error
		if rows, err = ms.Metrics(ctx, start); err != nil {
			return nil, err
		}
	}
	st, err := in.q.store.Stats(ctx, now)
	if err != nil {
		return nil, err
	}
	queues, kinds := map[string]*ChartSeries{}, map[string]*ChartSeries{}
	get := func(m map[string]*ChartSeries, name string) *ChartSeries {
		s := m[name]
		if s == nil {
			s = &ChartSeries{Name: name, Points: make([]ChartPoint, len(c.Minutes))}
			m[name] = s
		}
		return s
	}
	for _, r := range rows {
		i := int(r.Minute.Sub(start) / time.Minute)
		if i < 0 || i >= len(c.Minutes) || (o.Queue != "" && r.Queue != o.Queue) || (o.Kind != "" && r.Kind != o.Kind) {
			continue
		}
		get(queues, r.Queue).add(i, r)
		get(kinds, r.Kind).add(i, r)
	}
	if o.Kind == "" {
		for _, q := range st.Queues {
			if o.Queue != "" && q.Name != o.Queue {
				continue
			}
			if _, ok := queues[q.Name]; ok || q.Pending > 0 {
				s := get(queues, q.Name)
				s.Pending, s.OldestPending = q.Pending, q.OldestPending
			}
		}
	}
	c.Queues, c.QueuesOmitted = topSeries(queues, o.Top)
	c.Kinds, c.KindsOmitted = topSeries(kinds, o.Top)
	return c, nil
}

// add adds row r to minute i of s.
func (s *ChartSeries) add(i int, r MinuteMetrics) {
	p := &s.Points[i]
	p.Completed += r.Completed
	p.Failed += r.Failed
	p.Dead += r.Dead
	p.wait.Merge(r.Wait)
	s.Completed += r.Completed
	s.Failed += r.Failed
	s.Dead += r.Dead
	s.wait.Merge(r.Wait)
}

// topSeries finishes the series of m (their wait quantiles) and returns
// the top busiest, and how many it left out.
func topSeries(m map[string]*ChartSeries, top int) ([]ChartSeries, int) {
	out := make([]ChartSeries, 0, len(m))
	for _, s := range m {
		for i := range s.Points {
			p := &s.Points[i]
			p.Attempts, p.WaitP50, p.WaitP99 = p.wait.Count(), p.wait.Quantile(0.5), p.wait.Quantile(0.99)
		}
		s.Attempts, s.WaitP50, s.WaitP99 = s.wait.Count(), s.wait.Quantile(0.5), s.wait.Quantile(0.99)
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b ChartSeries) int {
		if c := cmp.Compare(b.Attempts, a.Attempts); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Completed+b.Failed+b.Dead, a.Completed+a.Failed+a.Dead); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Pending, a.Pending); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	if len(out) > top {
		return out[:top], len(out) - top
	}
	return out, 0
}
