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
	"github.com/spooljobs/spool/queue"
)

// seed fills e with jobs in every state across three queues and some
// throughput, and returns the IDs by name.
func seed(e *env) map[string]int64 {
	ids := map[string]int64{}
	for i := range 3 {
		ids[fmt.Sprintf("pending%d", i)] = e.enqueue(queue.NewJob{Kind: "email.receipt", Queue: "mail", Args: map[string]int{"order": 1000 + i}})
	}
	ids["scheduled"] = e.enqueue(queue.NewJob{Kind: "report.daily", Queue: "reports", Delay: time.Hour, Args: map[string]string{"day": "2026-03-02"}})
	run := e.running(queue.NewJob{Kind: "payment.charge", Queue: "orders", Args: map[string]int{"order": 7}, Metadata: map[string]string{"correlation_id": "order-7"}})
	ids["running"] = run.ID
	ids["dead"] = e.dead(queue.NewJob{Kind: "payment.charge", Queue: "orders", Args: map[string]int{"order": 8}},
		"card declined", "goroutine 7 [running]:\nmain.charge()\n\tshop.go:42")
	ids["dead2"] = e.dead(queue.NewJob{Kind: "warehouse.notify", Queue: "orders", Args: map[string]int{"order": 9}}, "warehouse API 500", "")
	// Throughput: some completed and failed attempts in past minutes.
	for m := 5; m >= 1; m-- {
		e.clock.Add(-time.Duration(m) * time.Minute)
		for range m {
			j := e.running(queue.NewJob{Kind: "stock.reserve", Queue: "orders"})
			e.settle(j, queue.OutcomeComplete, "", "")
		}
		j := e.running(queue.NewJob{Kind: "stock.reserve", Queue: "orders"})
		e.settle(j, queue.OutcomeRetry, "stock service timeout", "")
		ids[fmt.Sprintf("retry%d", m)] = j.ID
		e.clock.Add(time.Duration(m) * time.Minute)
	}
	// Make the pending jobs wait a little.
	e.clock.Add(90 * time.Second)
	return ids
}

func TestDashboard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	seed(e)
	require.NoError(t, e.q.Inspector().Pause(context.Background(), "reports"))
	body := e.getOK("/")
	require.Contains(t, body, "<title>Dashboard · spool admin</title>")
	// Totals: 3 pending mail jobs + 5 retried stock jobs due later
	// (scheduled), 1 scheduled report, 1 running, 2 dead.
	require.Regexp(t, `id="total-pending">3<`, body)
	require.Regexp(t, `id="total-scheduled">6<`, body)
	require.Regexp(t, `id="total-running">1<`, body)
	require.Regexp(t, `id="total-dead">2<`, body)
	require.Contains(t, body, `id="oldest-pending">1m 30s<`)
	// Per queue rows with the paused flag.
	require.Regexp(t, `(?s)<tr data-queue="mail">.*?active.*?>3<.*?</tr>`, body)
	require.Regexp(t, `(?s)<tr data-queue="reports">.*?paused.*?</tr>`, body)
	require.Regexp(t, `(?s)<tr data-queue="orders">.*?<td class="num dead" data-label="Dead"><a class="deadlink" href="/dead\?queue=orders">2</a>`, body)
	// The chart: an SVG with bars whose titles carry the counts.
	require.Contains(t, body, `<svg class="chart"`)
	require.Contains(t, body, "5 completed, 1 failed, 0 dead")
	require.Regexp(t, `15 completed</span>\s*<span class="item"><span class="key fail"></span>7 failed attempts</span>\s*<span class="item"><span class="key dead"></span>2 died`, body)
	// Auto-refresh is wired to the partial.
	require.Contains(t, body, `data-refresh-url="/partial/dashboard"`)
	require.Contains(t, body, `data-refresh-ms="5000"`)

	part := e.getOK("/partial/dashboard")
	require.NotContains(t, part, "<html")
	require.Regexp(t, `id="total-dead">2<`, part)

	// Refresh off.
	e2 := newEnv(t, admin.Options{RefreshInterval: -1})
	require.NotContains(t, e2.getOK("/"), "data-refresh-url")
	require.Contains(t, e2.getOK("/"), "No jobs yet")
}

func TestJobsList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	ids := seed(e)
	body := e.getOK("/jobs")
	for _, name := range []string{"pending0", "scheduled", "running", "dead", "retry3"} {
		require.Contains(t, body, fmt.Sprintf(`<tr data-id="%d">`, ids[name]), name)
	}
	require.Contains(t, body, fmt.Sprintf(`href="/jobs/%d"`, ids["dead"]))

	// Filters.
	body = e.getOK("/jobs?queue=mail")
	require.Equal(t, 3, strings.Count(body, `<tr data-id=`))
	body = e.getOK("/jobs?state=dead")
	require.Equal(t, 2, strings.Count(body, `<tr data-id=`))
	body = e.getOK("/jobs?kind=report.daily")
	require.Equal(t, 1, strings.Count(body, `<tr data-id=`))
	require.Contains(t, body, `<select name="state">`)
	body = e.getOK("/jobs?q=timeout")
	require.Equal(t, 5, strings.Count(body, `<tr data-id=`), "text in the error")
	body = e.getOK("/jobs?q=" + `%22order%22%3A1001`)
	require.Equal(t, 1, strings.Count(body, `<tr data-id=`), "text in the payload")
	body = e.getOK("/jobs?queue=mail&state=running")
	require.Contains(t, body, "No job matches this filter.")
	require.Contains(t, body, `<a class="btn ghost" href="/jobs">Clear</a>`)

	// Paging by ID: pages of 4, newest first, walked to the end.
	var seen []string
	next := "/jobs?limit=4"
	for next != "" {
		body = e.getOK(next)
		seen = append(seen, regexpAll(`<tr data-id="(\d+)">`, body)...)
		m := regexpAll(`rel="next" href="([^"]+)"`, body)
		next = ""
		if len(m) == 1 {
			next = strings.ReplaceAll(m[0], "&amp;", "&")
			require.Contains(t, body, "Older →")
		}
	}
	all := regexpAll(`<tr data-id="(\d+)">`, e.getOK("/jobs?limit=500"))
	require.Equal(t, all, seen)
	require.Len(t, all, 3+1+1+2+5) // completed jobs were deleted
	require.Contains(t, e.getOK("/jobs?limit=4&before="+all[3]), "← Newest")
}

func TestDeadList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	ids := seed(e)
	body := e.getOK("/dead")
	require.Contains(t, body, "<h1>Dead jobs</h1>")
	require.Equal(t, 2, strings.Count(body, `<tr data-id=`))
	require.Contains(t, body, "permanent error: card declined")
	require.Contains(t, body, fmt.Sprintf(`<input type="checkbox" name="ids" value="%d"`, ids["dead"]))
	require.Contains(t, body, `id="retry-all"`)
	require.Contains(t, body, "Retry all<")
	body = e.getOK("/dead?kind=warehouse.notify")
	require.Equal(t, 1, strings.Count(body, `<tr data-id=`))
	require.Contains(t, body, "Retry all matching<")
	require.Contains(t, body, `<input type="hidden" name="kind" value="warehouse.notify">`)
	body = e.getOK("/dead?q=declined")
	require.Equal(t, 1, strings.Count(body, `<tr data-id=`))
	require.Contains(t, e.getOK("/dead?queue=mail"), "No dead job matches this filter.")

	e2 := newEnv(t, admin.Options{})
	require.Contains(t, e2.getOK("/dead"), "No dead jobs.")
}

func TestJobDetail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	ids := seed(e)

	body := e.getOK(fmt.Sprintf("/jobs/%d", ids["dead"]))
	require.Contains(t, body, fmt.Sprintf("Job %d", ids["dead"]))
	require.Contains(t, body, `<span class="badge state-dead">dead</span>`)
	require.Contains(t, body, "{\n  &#34;order&#34;: 8\n}", "pretty JSON payload")
	require.Contains(t, body, "permanent error: card declined")
	require.Contains(t, body, "goroutine 7 [running]:\nmain.charge()\n\tshop.go:42")
	require.Contains(t, body, `id="retry"`)
	require.Contains(t, body, `id="delete"`)
	require.NotContains(t, body, `id="cancel"`)
	require.Contains(t, body, "2026-03-02 14:30:00.000 UTC <span class=\"muted\">· 1m 30s ago</span>", "died")

	body = e.getOK(fmt.Sprintf("/jobs/%d", ids["running"]))
	require.Contains(t, body, "worker-1", "lease holder")
	require.Contains(t, body, "2026-03-02 14:30:30.000 UTC", "lease expiry")
	require.Contains(t, body, "correlation_id")
	require.Contains(t, body, "order-7")
	require.Contains(t, body, `id="cancel"`)
	require.NotContains(t, body, `id="delete"`)
	require.Contains(t, body, "No failed attempts.")

	body = e.getOK(fmt.Sprintf("/jobs/%d", ids["retry2"]))
	require.Contains(t, body, "stock service timeout")
	require.Contains(t, body, "attempt 1")

	// Payloads that are not JSON.
	text := e.enqueue(queue.NewJob{Kind: "raw", Payload: []byte("plain text payload")})
	require.Contains(t, e.getOK(fmt.Sprintf("/jobs/%d", text)), "text · 18 bytes")
	bin := e.enqueue(queue.NewJob{Kind: "raw", Payload: []byte{0xff, 0xfe, 0x00}})
	body = e.getOK(fmt.Sprintf("/jobs/%d", bin))
	require.Contains(t, body, "binary, base64")
	require.Contains(t, body, "//4A")
	empty := e.enqueue(queue.NewJob{Kind: "raw", Payload: []byte{}})
	require.Contains(t, e.getOK(fmt.Sprintf("/jobs/%d", empty)), "Empty payload.")
	// A payload too large to show whole is cut, not rendered whole.
	big := e.enqueue(queue.NewJob{Kind: "raw", Payload: []byte(strings.Repeat("x", 300<<10))})
	body = e.getOK(fmt.Sprintf("/jobs/%d", big))
	require.True(t, strings.Contains(body, "(truncated: 65\u202f536 of 307\u202f200 bytes shown)"), "the cut is said")
	require.Less(t, len(body), 100<<10)

	w := e.get("/jobs/999999")
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Contains(t, w.Body.String(), "job 999999: queue: job not found")
}

func TestQueuesPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	seed(e)
	require.NoError(t, e.q.Inspector().Pause(context.Background(), "mail"))
	body := e.getOK("/queues")
	require.Regexp(t, `(?s)<tr data-queue="mail">.*?paused.*?action="/queues/resume".*?value="mail".*?Resume</button>`, body)
	require.Regexp(t, `(?s)<tr data-queue="orders">.*?active.*?action="/queues/pause".*?value="orders".*?Pause</button>`, body)
	require.Contains(t, body, "Pause a queue by name")
	require.NotContains(t, body, "max-running", "no limit, nothing shown")

	// A queue's MaxRunning shows beside its running count, and in the API.
	require.NoError(t, e.q.Inspector().SetQueueSettings(context.Background(), "orders", queue.QueueSettings{MaxRunning: 3}))
	body = e.getOK("/queues")
	require.Regexp(t, `(?s)<tr data-queue="orders">.*?data-label="Running">1 <span class="muted max-running" title="At most 3 running at once across every process[^"]*">/ 3 max</span>`, body)
	require.Equal(t, 1, strings.Count(body, `class="muted max-running"`), "only the limited queue shows a limit")
	require.NoError(t, e.q.Inspector().SetQueueSettings(context.Background(), "mail", queue.QueueSettings{RateLimit: 20, RatePeriod: time.Minute}))
	body = e.getOK("/queues")
	require.Regexp(t, `(?s)<tr data-queue="mail">.*?<span class="muted rate-limit" title="At most 20 jobs start per 1m across every process[^"]*">20 per 1m</span>`, body)
	require.NotContains(t, body, "per-key", "no per-key limit, nothing shown")
	require.NoError(t, e.q.Inspector().SetQueueSettings(context.Background(), "mail", queue.QueueSettings{MaxRunningPerKey: 2, RateLimitPerKey: 5, RatePeriodPerKey: time.Minute}))
	body = e.getOK("/queues")
	require.Regexp(t, `(?s)<tr data-queue="mail">.*?<span class="muted rate-limit-per-key" title="At most 5 jobs of one partition key start per 1m across every process[^"]*">5 per 1m per key</span>`, body)
	require.Regexp(t, `(?s)<tr data-queue="mail">.*?data-label="Running">0 <span class="muted max-running-per-key" title="At most 2 jobs of one partition key running at once across every process[^"]*">2 max per key</span>`, body)
	qs := decode[struct {
		Queues []struct {
			Name             string
			MaxRunning       int     `json:"max_running"`
			MaxRunningPerKey int     `json:"max_running_per_key"`
			RateLimitPerKey  int     `json:"rate_limit_per_key"`
			RatePeriodPerKey float64 `json:"rate_period_per_key_seconds"`
		}
	}](t, e.get("/api/queues"))
	limits := map[string]int{}
	for _, q := range qs.Queues {
		limits[q.Name] = q.MaxRunning
		if q.Name == "mail" {
			require.Equal(t, 2, q.MaxRunningPerKey)
			require.Equal(t, 5, q.RateLimitPerKey)
			require.Equal(t, 60.0, q.RatePeriodPerKey)
		}
	}
	require.Equal(t, 3, limits["orders"])
	require.Contains(t, limits, "mail")
	require.Zero(t, limits["mail"])
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	body := e.getOK("/")
	css := regexpAll(`<link rel="stylesheet" href="([^"]+)">`, body)
	require.Len(t, css, 1)
	require.Regexp(t, `^/static/admin\.css\?v=[0-9a-f]{16}$`, css[0])
	w := e.get(css[0])
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "text/css; charset=utf-8", w.Header().Get("Content-Type"))
	require.Contains(t, w.Body.String(), ".state-dead")
	r, _ := http.NewRequest("GET", css[0], nil)
	r.Header.Set("If-None-Match", w.Header().Get("ETag"))
	require.Equal(t, http.StatusNotModified, e.serve(r).Code)

	js := regexpAll(`<script src="([^"]+)" defer>`, body)
	require.Len(t, js, 1)
	w = e.get(js[0])
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "text/javascript; charset=utf-8", w.Header().Get("Content-Type"))
	require.Equal(t, http.StatusNotFound, e.get("/static/nope.css").Code)
}

func TestAPIReads(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	ids := seed(e)

	type apiQueue struct {
		Name                 string
		Pending, Dead        int
		Scheduled, Running   int
		OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
		Paused               bool
	}
	st := decode[struct {
		Now        time.Time
		Queues     []apiQueue
		Throughput []struct {
			Minute                  time.Time
			Completed, Failed, Dead int
		}
	}](t, e.get("/api/stats"))
	require.Equal(t, t0.Add(90*time.Second), st.Now)
	require.Len(t, st.Queues, 3)
	require.Equal(t, apiQueue{Name: "mail", Pending: 3, OldestPendingSeconds: 90}, st.Queues[0])
	require.Equal(t, apiQueue{Name: "orders", Dead: 2, Running: 1, Scheduled: 5}, st.Queues[1])
	require.Len(t, st.Throughput, 60)
	require.Equal(t, t0.Add(-58*time.Minute), st.Throughput[0].Minute)
	byMinute := map[time.Time][3]int{}
	for _, m := range st.Throughput {
		byMinute[m.Minute] = [3]int{m.Completed, m.Failed, m.Dead}
	}
	require.Equal(t, [3]int{0, 2, 2}, byMinute[t0], "two jobs died at t0")
	require.Equal(t, [3]int{1, 1, 0}, byMinute[t0.Add(-time.Minute)])
	require.Equal(t, [3]int{5, 1, 0}, byMinute[t0.Add(-5*time.Minute)])

	qs := decode[struct{ Queues []apiQueue }](t, e.get("/api/queues"))
	require.Equal(t, st.Queues, qs.Queues)

	type apiJob struct {
		ID              int64
		State           string
		Queue, Kind     string
		LastError       string     `json:"last_error"`
		DeadReason      string     `json:"dead_reason"`
		LeasedBy        string     `json:"leased_by"`
		LeaseUntil      *time.Time `json:"lease_until"`
		PayloadEncoding string     `json:"payload_encoding"`
		Payload         any
		Errors          []struct {
			Attempt int
			Error   string
			Stack   string
		}
	}
	list := decode[struct {
		Jobs       []apiJob
		NextBefore int64 `json:"next_before"`
	}](t, e.get("/api/jobs?queue=orders&limit=3"))
	require.Len(t, list.Jobs, 3)
	require.Equal(t, list.Jobs[2].ID, list.NextBefore)
	require.Nil(t, list.Jobs[0].Payload, "lists leave payloads out")
	rest := decode[struct {
		Jobs       []apiJob
		NextBefore int64 `json:"next_before"`
	}](t, e.get(fmt.Sprintf("/api/jobs?queue=orders&limit=100&before=%d", list.NextBefore)))
	require.Zero(t, rest.NextBefore)
	require.Len(t, rest.Jobs, 5) // 1 running + 2 dead + 5 retried = 8 in orders
	for _, j := range append(list.Jobs, rest.Jobs...) {
		require.Equal(t, "orders", j.Queue)
	}

	dead := decode[struct{ Jobs []apiJob }](t, e.get("/api/dead"))
	require.Len(t, dead.Jobs, 2)
	require.Equal(t, ids["dead2"], dead.Jobs[0].ID)
	require.Equal(t, "warehouse API 500", dead.Jobs[0].LastError)
	require.Equal(t, "permanent error: warehouse API 500", dead.Jobs[0].DeadReason)

	j := decode[apiJob](t, e.get(fmt.Sprintf("/api/jobs/%d", ids["dead"])))
	require.Equal(t, "dead", j.State)
	require.Equal(t, "json", j.PayloadEncoding)
	require.Equal(t, map[string]any{"order": float64(8)}, j.Payload)
	require.Len(t, j.Errors, 1)
	require.Equal(t, "card declined", j.Errors[0].Error)
	require.Contains(t, j.Errors[0].Stack, "shop.go:42")

	j = decode[apiJob](t, e.get(fmt.Sprintf("/api/jobs/%d", ids["running"])))
	require.Equal(t, "worker-1", j.LeasedBy)
	require.Equal(t, t0.Add(30*time.Second), *j.LeaseUntil)

	bin := e.enqueue(queue.NewJob{Kind: "raw", Payload: []byte{0xff, 0x00}})
	j = decode[apiJob](t, e.get(fmt.Sprintf("/api/jobs/%d", bin)))
	require.Equal(t, "base64", j.PayloadEncoding)
	require.Equal(t, "/wA=", j.Payload)
	text := e.enqueue(queue.NewJob{Kind: "raw", Payload: []byte("hi there")})
	j = decode[apiJob](t, e.get(fmt.Sprintf("/api/jobs/%d", text)))
	require.Equal(t, "text", j.PayloadEncoding)
	require.Equal(t, "hi there", j.Payload)

	w := e.get("/api/jobs/424242")
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Equal(t, "job 424242: queue: job not found", decode[map[string]string](t, w)["error"])
}

func regexpAll(expr, s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(expr).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}
