package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// seedCharts settles attempts over the half hour before the clock's now
// (leased now, settled as in their minute, without moving the clock): the
// mail queue's send jobs complete (the third of a minute fails), waiting
// longer over time; billing's render jobs die now and then; a kind
// "<script>…" (from a direct Settle) shows escaped; a job waits in the
// mail queue, due five minutes ago.
func seedCharts(e *env) {
	e.t.Helper()
	now := e.clock.Now()
	settleAt := func(j *queue.Job, at time.Time, o queue.Outcome) {
		s := queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Kind: j.Kind, Wait: j.Waited(),
			Outcome: o, Now: at, RunAt: now.Add(24 * time.Hour)}
		if o != queue.OutcomeComplete {
			s.Error, s.Reason = &queue.AttemptError{Attempt: j.Attempt, At: at, Message: "failed"}, "failed"
		}
		errs, err := e.store.Settle(context.Background(), nil, []queue.Settlement{s})
		require.NoError(e.t, err)
		require.NoError(e.t, errs[0])
		if o != queue.OutcomeComplete {
			// Only the counts matter here: the other pages of the demo
			// (browser_test.go) keep their lists.
			require.NoError(e.t, e.q.Inspector().Delete(context.Background(), j.ID))
		}
	}
	for m := range 30 {
		at := now.Add(-time.Duration(29-m) * time.Minute)
		for i := range 1 + m%4 {
			j := e.running(queue.NewJob{Kind: "send", Queue: "mail", RunAt: now.Add(-time.Duration(m*100+i*10) * time.Millisecond)})
			o := queue.OutcomeComplete
			if i == 2 {
				o = queue.OutcomeRetry
			}
			settleAt(j, at, o)
		}
		if m%5 == 0 {
			j := e.running(queue.NewJob{Kind: "render", Queue: "billing", RunAt: now.Add(-2 * time.Second)})
			o := queue.OutcomeComplete
			if m%10 == 0 {
				o = queue.OutcomeDead
			}
			settleAt(j, at, o)
		}
		if m == 20 {
			// Kinds are validated names, but a direct Settle may say anything.
			j := e.running(queue.NewJob{Kind: "odd", Queue: "mail"})
			j.Kind = "<script>x</script>"
			settleAt(j, at, queue.OutcomeComplete)
		}
	}
	e.enqueue(queue.NewJob{Kind: "send", Queue: "mail", RunAt: now.Add(-5 * time.Minute)})
}

func TestChartsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	body := e.getOK("/charts")
	require.Contains(t, body, `href="/charts" class="active"`, "the nav link, active")
	require.Contains(t, body, "No attempt settled in the last hour")
	seedCharts(e)

	body = e.getOK("/charts")
	require.Contains(t, body, "from 2026-03-02 13:31:00.000 UTC to 2026-03-02 14:31:00.000 UTC", "the hour, in times the local-time toggle converts")
	require.Regexp(t, `(?s)id="charts-queues".*data-series="queue" data-name="mail".*data-series="queue" data-name="billing".*id="charts-kinds"`, body, "queues busiest first")
	require.Regexp(t, `(?s)data-series="kind" data-name="send".*data-series="kind" data-name="render"`, body)
	mail := seriesHTML(t, body, "queue", "mail")
	// 30 minutes of 1, 2, 3, 4 … sends (73), the third of a minute failing (14), and the <script> job
	require.Contains(t, mail, `<dd class="completed">60</dd>`)
	require.Contains(t, mail, `<dd class="failed">14</dd>`)
	require.Contains(t, mail, `<dd class="oldest-pending">5m</dd>`, "the queue's oldest pending job")
	require.Contains(t, mail, `<dd class="wait-p99">`)
	require.Equal(t, 60, strings.Count(mail, `<g class="bar">`), "a bar per minute of the hour")
	require.Contains(t, mail, "2026-03-02 14:04:00.000 UTC: 3 completed, 1 failed, 0 dead", "a bar's title names its minute and counts")
	require.Regexp(t, `<polyline class="p50" points="[0-9., ]+">`, mail, "a wait line")
	billing := seriesHTML(t, body, "queue", "billing")
	require.Contains(t, billing, `<dd class="dead">3</dd>`)
	require.Contains(t, billing, `<dd class="wait-p50">1.8s</dd>`, "six waits of 2s: the p50 estimate is the middle of bucket (1s, 2.5s]")
	require.NotContains(t, body, "<script>x</script>", "names are escaped")
	require.Contains(t, body, "&lt;script&gt;x&lt;/script&gt;")

	// Selection by queue and kind; the cap says what it left out.
	require.Contains(t, e.getOK("/"), `href="/charts">Per queue and kind →</a>`, "the dashboard's chart leads here")
	body = e.getOK("/charts?kind=render")
	require.NotContains(t, body, `data-name="mail"`)
	require.NotContains(t, body, "oldest-pending", "a queue's pending figures count every kind: not shown for one kind")
	require.Contains(t, body, `data-series="queue" data-name="billing"`)
	body = e.getOK("/charts?top=1")
	require.Equal(t, 1, strings.Count(body, `data-series="queue"`))
	require.Contains(t, body, "The busiest 1 by attempts in the hour; 1 more not shown")
	require.Contains(t, body, "2 more not shown", "kinds: send shown, render and <script> left out")

	for _, bad := range []string{"?top=0", "?top=x", "?top=51", "?queue=%20bad", "?kind=a&kind=b", "?color=red", "?queue=%ff"} {
		w := e.get("/charts" + bad)
		require.Equal(t, http.StatusBadRequest, w.Code, bad)
		require.Contains(t, w.Body.String(), "parameter", bad)
		w = e.get("/api/charts" + bad)
		require.Equal(t, http.StatusBadRequest, w.Code, bad)
	}
}

// seriesHTML returns the card of one series.
func seriesHTML(t *testing.T, body, kind, name string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<article class="card series" data-series="` + kind + `" data-name="` + regexp.QuoteMeta(name) + `">.*?</article>`)
	m := re.FindString(body)
	require.NotEmpty(t, m, "series %s %s", kind, name)
	return m
}

func TestChartsAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	seedCharts(e)
	w := e.get("/api/charts?queue=billing")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), `"wait_p99_seconds"`, "snake_case")
	got := decode[wire.Charts](t, w)
	require.True(t, got.Tracked)
	require.Equal(t, "billing", got.Queue)
	require.Equal(t, queue.DefaultChartsTop, got.Top)
	require.Len(t, got.Minutes, 60)
	require.Len(t, got.Queues, 1)
	r := got.Queues[0]
	require.Equal(t, "billing", r.Name)
	require.Equal(t, 3, r.Completed)
	require.Equal(t, 3, r.Dead)
	require.Equal(t, int64(6), r.Attempts)
	require.Len(t, r.Points, 60)
	require.InDelta(t, 2.0, r.WaitP50Seconds, 0.5, "waits of 2s: inside (1s, 2.5s]")
	require.LessOrEqual(t, r.WaitP50Seconds, r.WaitP99Seconds)
	require.Equal(t, []string{"render"}, func() (out []string) {
		for _, k := range got.Kinds {
			out = append(out, k.Name)
		}
		return out
	}())
	require.Equal(t, fmt.Sprint(got.Minutes[59]), fmt.Sprint(e.clock.Now().Truncate(time.Minute)))
}

// On a store that keeps no metrics per kind the page says so and still
// shows the queues' pending jobs.
func TestChartsUntracked(t *testing.T) {
	t.Parallel()
	_, store, clock := newTestQueue(t)
	q, err := queue.New(untracked{store}, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	h, err := admin.New(q, admin.Options{NoAuth: true})
	require.NoError(t, err)
	e := &env{t: t, q: q, store: store, clock: clock, h: h}
	e.enqueue(queue.NewJob{Kind: "k", Queue: "mail", RunAt: clock.Now().Add(-time.Minute)})
	body := e.getOK("/charts")
	require.Contains(t, body, `id="charts-untracked"`)
	require.Contains(t, body, "queue.MetricsStore")
	require.Contains(t, seriesHTML(t, body, "queue", "mail"), `<dd class="oldest-pending">1m</dd>`)
	got := decode[wire.Charts](t, e.get("/api/charts"))
	require.False(t, got.Tracked)
	require.Len(t, got.Queues, 1)
	require.Empty(t, got.Kinds)
}
