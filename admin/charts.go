package admin

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// Charts (issue 15): the last hour per queue and per kind, from
// Inspector.Charts: completed and failed attempts per minute, the wait
// (run start minus due time) p50 and p99 per minute and over the hour,
// and each queue's oldest pending job. The SVG is drawn by the template
// from numbers computed here; no markup is built in Go.

// MaxChartsTop is the most series per list the charts page and API show
// (parameter "top"); kinds are unbounded, so the page shows the busiest.
const MaxChartsTop = 50

// chartsParams is the validated selection of the charts page and API.
type chartsParams struct {
	Queue, Kind string
	Top         int
}

func readChartsParams(r *http.Request) (chartsParams, error) {
	p := readQuery(r, "queue", "kind", "top")
	c := chartsParams{Queue: p.name("queue"), Kind: p.name("kind"), Top: int(p.int("top", 1, MaxChartsTop, queue.DefaultChartsTop))}
	return c, p.err
}

func (c chartsParams) options() queue.ChartsOptions {
	return queue.ChartsOptions{Queue: c.Queue, Kind: c.Kind, Top: c.Top}
}

func (h *Handler) loadCharts(r *http.Request, c chartsParams) (*queue.Charts, error) {
	ctx, cancel := h.readCtx(r)
	defer cancel()
	return h.q.Inspector().Charts(ctx, c.options())
}

// chartsView is the charts page.
type chartsView struct {
	Filter      chartsParams
	Filtered    bool
	FilterURL   string
	From, To    time.Time
	Queues      []seriesView
	Kinds       []seriesView
	QueuesLeft  int
	KindsLeft   int
	Tracked     bool
	Store       string
	WaitBuckets string // the buckets' bounds, for the note on estimates
}

// seriesView is one queue's or kind's card: its numbers and two small
// charts.
type seriesView struct {
	queue.ChartSeries
	IsQueue bool
	// ShowPending shows a queue's pending figures: not when the page is
	// narrowed to a kind (they count every kind of the queue).
	ShowPending bool
	// URL selects this series alone; JobsURL lists its jobs.
	URL, JobsURL string
	Bars         miniChart
	Wait         waitChart
}

// miniChart is a small bar chart of completed and failed attempts per
// minute, 400 units wide so that its labels read at 400 px.
type miniChart struct {
	W, H      int
	Left, Top float64
	PlotW     float64
	PlotH     float64
	Bottom    float64
	Grid      []gridLine
	Bars      []bar
	XLabels   []xLabel
	Peak      int
}

// waitChart is the wait p50 and p99 per minute as lines on a log scale
// (1ms to 30m, the buckets' finite range).
type waitChart struct {
	W, H      int
	Left, Top float64
	PlotW     float64
	PlotH     float64
	Bottom    float64
	Grid      []gridLine
	P50, P99  []waitLine
	Dots      []waitDot
	XLabels   []xLabel
}

// waitLine is a run of minutes with attempts, as SVG polyline points.
type waitLine struct{ Points string }

// waitDot marks a minute's p50 and p99 (Y50, Y99) with its numbers as a
// title.
type waitDot struct {
	X, Y50, Y99 float64
	Title       string
}

const (
	miniW     = 400
	miniLeft  = 46
	miniRight = 8
)

// xLabels returns labels every 15 minutes of n, relative to now (they
// read the same in every time zone).
func xLabels(left, plotW float64, n int) []xLabel {
	var out []xLabel
	if n == 0 {
		return out
	}
	slot := plotW / float64(n)
	for i := 0; i <= n; i += 15 {
		l := xLabel{X: round1(left + slot*float64(i)), Label: fmt.Sprintf("−%dm", n-i), Anchor: "middle"}
		switch i {
		case 0:
			l.Anchor = "start"
		case n:
			l.Label, l.Anchor = "now", "end"
		}
		out = append(out, l)
	}
	return out
}

func buildMiniChart(minutes []time.Time, s queue.ChartSeries) miniChart {
	c := miniChart{W: miniW, H: 120, Left: miniLeft, Top: 8}
	c.PlotW = float64(c.W) - c.Left - miniRight
	c.PlotH = float64(c.H) - c.Top - 22
	c.Bottom = c.Top + c.PlotH
	for _, p := range s.Points {
		c.Peak = max(c.Peak, p.Completed+p.Failed)
	}
	step := niceStep(max(1, (c.Peak+1)/2))
	top := max(1, (c.Peak+step-1)/step) * step
	for v := 0; v <= top; v += step {
		c.Grid = append(c.Grid, gridLine{Y: round1(c.Bottom - c.PlotH*float64(v)/float64(top)), Label: formatNum(v)})
	}
	n := len(s.Points)
	if n == 0 {
		return c
	}
	slot := c.PlotW / float64(n)
	scale := c.PlotH / float64(top)
	for i, p := range s.Points {
		okH, failH := float64(p.Completed)*scale, float64(p.Failed)*scale
		x := c.Left + slot*float64(i)
		c.Bars = append(c.Bars, bar{
			X: round1(x + slot*0.1), W: round1(slot * 0.8),
			OkY: round1(c.Bottom - okH), OkH: round1(okH),
			FailY: round1(c.Bottom - okH - failH), FailH: round1(failH),
			Title: fmt.Sprintf("%s: %d completed, %d failed, %d dead", formatTime(minutes[i]), p.Completed, p.Failed, p.Dead),
		})
	}
	c.XLabels = xLabels(c.Left, c.PlotW, n)
	return c
}

// waitTicks are the wait chart's grid lines.
var waitTicks = []struct {
	d     time.Duration
	label string
}{{time.Millisecond, "1ms"}, {100 * time.Millisecond, "100ms"}, {10 * time.Second, "10s"}, {30 * time.Minute, "30m"}}

func buildWaitChart(minutes []time.Time, s queue.ChartSeries) waitChart {
	c := waitChart{W: miniW, H: 96, Left: miniLeft, Top: 8}
	c.PlotW = float64(c.W) - c.Left - miniRight
	c.PlotH = float64(c.H) - c.Top - 22
	c.Bottom = c.Top + c.PlotH
	lo, hi := math.Log10(float64(time.Millisecond)), math.Log10(float64(30*time.Minute))
	y := func(d time.Duration) float64 {
		v := math.Log10(float64(max(d, time.Millisecond)))
		return round1(c.Bottom - c.PlotH*(min(v, hi)-lo)/(hi-lo))
	}
	for _, t := range waitTicks {
		c.Grid = append(c.Grid, gridLine{Y: y(t.d), Label: t.label})
	}
	n := len(s.Points)
	if n == 0 {
		return c
	}
	slot := c.PlotW / float64(n)
	var p50, p99 []string
	flush := func() {
		if len(p50) > 0 {
			c.P50 = append(c.P50, waitLine{strings.Join(p50, " ")})
			c.P99 = append(c.P99, waitLine{strings.Join(p99, " ")})
		}
		p50, p99 = nil, nil
	}
	for i, p := range s.Points {
		if p.Attempts == 0 {
			flush()
			continue
		}
		x := round1(c.Left + slot*(float64(i)+0.5))
		xs := strconv.FormatFloat(x, 'f', -1, 64)
		p50 = append(p50, xs+","+strconv.FormatFloat(y(p.WaitP50), 'f', -1, 64))
		p99 = append(p99, xs+","+strconv.FormatFloat(y(p.WaitP99), 'f', -1, 64))
		c.Dots = append(c.Dots, waitDot{X: x, Y50: y(p.WaitP50), Y99: y(p.WaitP99),
			Title: fmt.Sprintf("%s: wait p50 %s, p99 %s over %s", formatTime(minutes[i]), waitText(p.WaitP50), waitText(p.WaitP99), attemptsText(p.Attempts))})
	}
	flush()
	c.XLabels = xLabels(c.Left, c.PlotW, n)
	return c
}

// attemptsText is "1 attempt" or "n attempts".
func attemptsText(n int64) string {
	if n == 1 {
		return "1 attempt"
	}
	return formatNum(int(n)) + " attempts"
}

// waitText formats an estimated wait (wire.Wait).
func waitText(d time.Duration) string { return wire.Wait(d, " ") }

func (h *Handler) chartsPage(w http.ResponseWriter, r *http.Request) error {
	p, err := readChartsParams(r)
	if err != nil {
		return err
	}
	c, err := h.loadCharts(r, p)
	if err != nil {
		return err
	}
	v := &chartsView{Filter: p, Filtered: p.Queue != "" || p.Kind != "" || p.Top != queue.DefaultChartsTop,
		FilterURL: h.url("/charts"), QueuesLeft: c.QueuesOmitted, KindsLeft: c.KindsOmitted,
		Tracked: c.Tracked, Store: fmt.Sprintf("%T", h.q.Store())}
	if len(c.Minutes) > 0 {
		v.From, v.To = c.Minutes[0], c.Minutes[len(c.Minutes)-1].Add(time.Minute)
	}
	bounds := make([]string, 0, queue.WaitBuckets)
	for _, b := range queue.WaitBucketBounds() {
		bounds = append(bounds, waitText(b))
	}
	v.WaitBuckets = strings.Join(bounds, ", ")
	series := func(ss []queue.ChartSeries, isQueue bool) []seriesView {
		out := make([]seriesView, len(ss))
		for i, s := range ss {
			sel, jobs := url.Values{}, url.Values{}
			key := "kind"
			if isQueue {
				key = "queue"
			}
			sel.Set(key, s.Name)
			jobs.Set(key, s.Name)
			out[i] = seriesView{ChartSeries: s, IsQueue: isQueue, ShowPending: isQueue && p.Kind == "",
				URL: h.url("/charts?" + sel.Encode()), JobsURL: h.url("/jobs?" + jobs.Encode()),
				Bars: buildMiniChart(c.Minutes, s), Wait: buildWaitChart(c.Minutes, s)}
		}
		return out
	}
	v.Queues, v.Kinds = series(c.Queues, true), series(c.Kinds, false)
	return h.render(w, r, http.StatusOK, "charts", "layout", h.newPage(w, r, "Charts", "charts", v))
}

func (h *Handler) apiCharts(w http.ResponseWriter, r *http.Request) error {
	p, err := readChartsParams(r)
	if err != nil {
		return err
	}
	c, err := h.loadCharts(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.NewCharts(h.q.Now(), p.options(), c))
	return nil
}
