package admin

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// parseTemplates parses one template set per page: the layout, the shared
// partials and the page.
func (h *Handler) parseTemplates() error {
	funcs := template.FuncMap{
		"url":     h.url,
		"ago":     h.ago,
		"ts":      formatTime,
		"dur":     formatDuration,
		"waitdur": waitText,
		"num":     formatNum,
		"trunc":   truncate,
		"zoned":   zoned,
	}
	h.pages = map[string]*template.Template{}
	for _, page := range []string{"dashboard", "jobs", "job", "queues", "processes", "charts", "schedules", "topics", "topic", "batches", "error"} {
		t, err := template.New(page).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/partials.html", "templates/"+page+".html")
		if err != nil {
			return fmt.Errorf("admin: templates: %w", err)
		}
		h.pages[page] = t
	}
	return nil
}

// ago says how long before (or after) the queue's clock t is: "3m ago",
// "in 20s". The zero time is "—".
func (h *Handler) ago(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return wire.Ago(t, h.q.Now(), " ")
}

// shortDuration rounds d to its largest unit or two: 45s, 3m 12s, 5h 3m,
// 4d 2h.
func shortDuration(d time.Duration) string { return wire.Duration(d, " ") }

func formatDuration(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	return shortDuration(d)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

// zoned formats t in its own time zone, as a schedule's next run reads in
// the schedule's zone: "Tue 3 Mar 02:30 CET". The zero time is "—".
func zoned(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Format("Mon 2 Jan 15:04 MST")
}

// formatNum writes n with thin separators: 1 234 567.
func formatNum(n int) string { return wire.Num(n, "\u202f") }

// truncate shortens s to at most n runes on its first line.
func truncate(n int, s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// MaxPayloadShown caps the bytes of a payload that a page or an API
// answer shows: the job page and /api/jobs/{id} show a longer payload's
// first MaxPayloadShown bytes and say it is cut, and /api/jobs/{id}/payload
// serves the whole payload as it is.
const MaxPayloadShown = 64 << 10

// payloadView formats a payload for a page: pretty JSON, text, or base64
// for bytes that are neither. A payload longer than MaxPayloadShown is
// cut (at a character boundary, for text) and says how many bytes are not
// shown.
func payloadView(p []byte) (text, kind string) {
	cut := ""
	shown := p
	if len(p) > MaxPayloadShown {
		shown = p[:MaxPayloadShown]
		if t := dropCutRune(shown); utf8.Valid(t) {
			// Text cut inside a character: end before it.
			shown = t
		}
		cut = fmt.Sprintf("\n… (truncated: %s of %s bytes shown)", formatNum(len(shown)), formatNum(len(p)))
	}
	switch {
	case len(p) == 0:
		return "", "empty"
	case cut == "" && utf8.Valid(p) && json.Valid(p):
		// (json.Valid accepts invalid UTF-8 in strings; a page cannot
		// show those bytes, so such a payload is shown as base64.)
		var b bytes.Buffer
		if err := json.Indent(&b, unescapeHTML(p), "", "  "); err == nil {
			return b.String(), "JSON"
		}
	}
	if utf8.Valid(shown) {
		return string(shown) + cut, "text"
	}
	return base64.StdEncoding.EncodeToString(shown) + cut, "binary, base64"
}

// dropCutRune drops an incomplete character from the end of b.
func dropCutRune(b []byte) []byte {
	i := len(b) - 1
	for i > 0 && i > len(b)-utf8.UTFMax && !utf8.RuneStart(b[i]) {
		i--
	}
	if i >= 0 && !utf8.FullRune(b[i:]) {
		return b[:i]
	}
	return b
}

// unescapeHTML turns the \u003c, \u003e and \u0026 escapes that
// encoding/json writes for <, > and & back into the characters, so that a
// payload reads as its author wrote it. The JSON means the same; the page
// escapes the characters itself.
func unescapeHTML(p []byte) []byte {
	if !bytes.Contains(p, []byte(`\u00`)) {
		return p
	}
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		if p[i] != '\\' || i+1 >= len(p) {
			out = append(out, p[i])
			continue
		}
		if p[i+1] == 'u' && i+6 <= len(p) {
			switch string(p[i+2 : i+6]) {
			case "003c", "003C":
				out, i = append(out, '<'), i+5
				continue
			case "003e", "003E":
				out, i = append(out, '>'), i+5
				continue
			case "0026":
				out, i = append(out, '&'), i+5
				continue
			}
		}
		// Any other escape: copy the backslash and the escaped byte.
		out, i = append(out, p[i], p[i+1]), i+1
	}
	return out
}

// chart is the dashboard's throughput chart, drawn as SVG by the template
// from these precomputed numbers (no markup is built in Go).
type chart struct {
	W, H       int
	Left, Top  float64
	PlotW      float64
	PlotH      float64
	Bottom     float64
	Max        int
	Grid       []gridLine
	Bars       []bar
	XLabels    []xLabel
	Completed  int
	Failed     int
	Dead       int
	PeakMinute int
}

type gridLine struct {
	Y     float64
	Label string
}

type bar struct {
	X, W         float64
	OkY, OkH     float64
	FailY, FailH float64
	Title        string
}

type xLabel struct {
	X      float64
	Label  string
	Anchor string // SVG text-anchor
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

// niceStep returns the smallest of 1, 2, 5, 10, 20, 50 ... at least x.
func niceStep(x int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= x {
				return m * p
			}
		}
	}
}

func buildChart(minutes []queue.MinuteStats) chart {
	c := chart{W: 800, H: 190, Left: 44, Top: 10}
	c.PlotW = float64(c.W) - c.Left - 8
	c.PlotH = float64(c.H) - c.Top - 26
	c.Bottom = c.Top + c.PlotH
	peak := 0
	for _, m := range minutes {
		c.Completed += m.Completed
		c.Failed += m.Failed
		c.Dead += m.Dead
		peak = max(peak, m.Completed+m.Failed)
	}
	c.PeakMinute = peak
	// Three to five grid lines above zero at round values.
	step := niceStep((peak + 3) / 4)
	c.Max = max(1, (peak+step-1)/step) * step
	for v := 0; v <= c.Max; v += step {
		c.Grid = append(c.Grid, gridLine{Y: round1(c.Bottom - c.PlotH*float64(v)/float64(c.Max)), Label: formatNum(v)})
	}
	n := len(minutes)
	if n == 0 {
		return c
	}
	slot := c.PlotW / float64(n)
	scale := c.PlotH / float64(c.Max)
	for i, m := range minutes {
		x := c.Left + slot*float64(i)
		okH := float64(m.Completed) * scale
		failH := float64(m.Failed) * scale
		c.Bars = append(c.Bars, bar{
			X: round1(x + slot*0.15), W: round1(slot * 0.7),
			OkY: round1(c.Bottom - okH), OkH: round1(okH),
			FailY: round1(c.Bottom - okH - failH), FailH: round1(failH),
			Title: fmt.Sprintf("%s UTC: %d completed, %d failed, %d dead", m.Minute.UTC().Format("15:04"), m.Completed, m.Failed, m.Dead),
		})
	}
	for i := 0; i <= n; i += 15 {
		l := xLabel{X: round1(c.Left + slot*float64(i)), Label: fmt.Sprintf("−%dm", n-i), Anchor: "middle"}
		switch i {
		case 0:
			l.Anchor = "start"
		case n:
			l.Label, l.Anchor = "now", "end"
		}
		c.XLabels = append(c.XLabels, l)
	}
	return c
}
