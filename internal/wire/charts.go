package wire

import (
	"strconv"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Charts is the last hour per queue and per kind (queue.Charts): each
// series has one point per minute of Minutes, oldest first. Wait times
// are in seconds; their p50 and p99 are estimates interpolated inside
// fixed buckets (queue.WaitHistogram).
type Charts struct {
	Now     time.Time     `json:"now"`
	Minutes []time.Time   `json:"minutes"`
	Queue   string        `json:"queue,omitempty"`
	Kind    string        `json:"kind,omitempty"`
	Top     int           `json:"top"`
	Queues  []ChartSeries `json:"queues"`
	// QueuesOmitted and KindsOmitted count the series left out beyond Top.
	QueuesOmitted int           `json:"queues_omitted"`
	Kinds         []ChartSeries `json:"kinds"`
	KindsOmitted  int           `json:"kinds_omitted"`
	// Tracked says whether the store records metrics per kind
	// (queue.MetricsStore).
	Tracked bool `json:"tracked"`
}

// ChartSeries is the hour of one queue or kind.
type ChartSeries struct {
	Name                 string       `json:"name"`
	Completed            int          `json:"completed"`
	Failed               int          `json:"failed"`
	Dead                 int          `json:"dead"`
	Attempts             int64        `json:"attempts"`
	WaitP50Seconds       float64      `json:"wait_p50_seconds"`
	WaitP99Seconds       float64      `json:"wait_p99_seconds"`
	Pending              int          `json:"pending"`
	OldestPendingSeconds float64      `json:"oldest_pending_seconds"`
	Points               []ChartPoint `json:"points"`
}

// ChartPoint is one minute of a series.
type ChartPoint struct {
	Completed      int     `json:"completed"`
	Failed         int     `json:"failed"`
	Dead           int     `json:"dead"`
	Attempts       int64   `json:"attempts"`
	WaitP50Seconds float64 `json:"wait_p50_seconds"`
	WaitP99Seconds float64 `json:"wait_p99_seconds"`
}

// NewCharts returns c's JSON form at now, for the selection o.
func NewCharts(now time.Time, o queue.ChartsOptions, c *queue.Charts) Charts {
	out := Charts{Now: now.UTC(), Minutes: make([]time.Time, len(c.Minutes)), Queue: o.Queue, Kind: o.Kind, Top: o.Top,
		Queues: newSeries(c.Queues), QueuesOmitted: c.QueuesOmitted, Kinds: newSeries(c.Kinds), KindsOmitted: c.KindsOmitted,
		Tracked: c.Tracked}
	for i, m := range c.Minutes {
		out.Minutes[i] = m.UTC()
	}
	return out
}

func newSeries(ss []queue.ChartSeries) []ChartSeries {
	out := make([]ChartSeries, len(ss))
	for i, s := range ss {
		o := ChartSeries{Name: s.Name, Completed: s.Completed, Failed: s.Failed, Dead: s.Dead, Attempts: s.Attempts,
			WaitP50Seconds: s.WaitP50.Seconds(), WaitP99Seconds: s.WaitP99.Seconds(),
			Pending: s.Pending, OldestPendingSeconds: s.OldestPending.Seconds(), Points: make([]ChartPoint, len(s.Points))}
		for j, p := range s.Points {
			o.Points[j] = ChartPoint{Completed: p.Completed, Failed: p.Failed, Dead: p.Dead, Attempts: p.Attempts,
				WaitP50Seconds: p.WaitP50.Seconds(), WaitP99Seconds: p.WaitP99.Seconds()}
		}
		out[i] = o
	}
	return out
}

// Wait formats an estimated wait to about two figures: "<1ms" below a
// millisecond, "175ms", "1.8s", then as Duration with sep.
func Wait(d time.Duration, sep string) string {
	switch {
	case d < time.Millisecond:
		return "<1ms"
	case d.Round(time.Millisecond) < time.Second: // 999.6ms reads 1s, not 1000ms
		return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + "ms"
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Round(100*time.Millisecond).Seconds(), 'f', -1, 64) + "s"
	}
	return Duration(d, sep)
}
