package admin_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
)

// The browser test drives the admin in headless Chromium. CI installs
// Debian's chromium package (.ci/run). Environment:
//
//	SPOOL_CHROMIUM=/path/to/chrome   another browser binary
//	SPOOL_REQUIRE_BROWSER=1          fail, not skip, when it is missing (.ci/run sets it)
//	SPOOL_SKIP_BROWSER=1             skip the browser test
//	SPOOL_ADMIN_SCREENSHOTS=/tmp/dir also save a screenshot of every page
const (
	chromiumPath   = "/usr/bin/chromium"
	installHint    = "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium"
	browserTimeout = 45 * time.Second
)

// newBrowser starts headless Chromium for the test (with a fresh profile
// directory, which chromedp makes and removes) and returns its context.
// A missing browser skips the test, saying how to install it, so that
// `go test ./...` works on a fresh machine; with SPOOL_REQUIRE_BROWSER=1
// (CI) it fails instead. SPOOL_SKIP_BROWSER=1 always skips.
func newBrowser(t *testing.T, width, height int) (context.Context, <-chan string) {
	t.Helper()
	path := chromiumPath
	if p := os.Getenv("SPOOL_CHROMIUM"); p != "" {
		path = p
	}
	if os.Getenv("SPOOL_SKIP_BROWSER") == "1" {
		t.Skip("SPOOL_SKIP_BROWSER=1: skipping the browser test")
	}
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("the admin's browser test needs headless Chromium at %s (%v).\n"+
			"Install it (Debian, as .ci/run does):\n\t%s\n"+
			"or set SPOOL_CHROMIUM to another Chrome/Chromium binary.", path, err, installHint)
		if os.Getenv("SPOOL_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(width, height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel)
	// The first Run starts the browser; it must not carry a timeout.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")), "start Chromium at %s", path)
	// Every request of the tab, fetches included, carries the password.
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(testUser+":"+testPass))
	_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}})
	require.NoError(t, err)
	// Accept every confirm() dialog, as a user who clicks OK, and report
	// its message.
	dialogs := make(chan string, 16)
	events := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			select {
			case dialogs <- ev.Message:
			default:
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx, dialogs
}

// text returns the text of the first element matching a CSS selector.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err, "text of %s", sel)
	return s
}

// clickAndLoad clicks an element and waits for the page it loads.
func clickAndLoad(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel))))
	require.NoError(t, err, "click %s", sel)
}

func TestBrowserDashboardAndRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{Prefix: "/admin", RefreshInterval: time.Second})
	ids := seed(e)
	mux := http.NewServeMux()
	mux.Handle("/admin/", e.h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	bctx, dialogs := newBrowser(t, 1280, 900)
	ctx, cancel := context.WithTimeout(bctx, browserTimeout)
	defer cancel()

	// The dashboard shows the counts.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin")))
	require.Equal(t, "Dashboard · spool admin", must(chromedp.Run(ctx, chromedp.Title())))
	require.Equal(t, "3", text(t, ctx, "#total-pending"))
	require.Equal(t, "1", text(t, ctx, "#total-running"))
	require.Equal(t, "2", text(t, ctx, "#total-dead"))
	require.Equal(t, "3", text(t, ctx, `tr[data-queue="mail"] td.pending`))

	// It refreshes itself: a new job shows up without a reload.
	e.enqueue(queue.NewJob{Kind: "email.receipt", Queue: "mail"})
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("total-pending").textContent === "4"`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	require.NoError(t, err, "the dashboard did not refresh to 4 pending")

	// Open a dead job from the dead list and retry it.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin/dead")))
	deadRow := fmt.Sprintf(`tr[data-id="%d"]`, ids["dead"])
	require.Contains(t, text(t, ctx, deadRow), "card declined")
	clickAndLoad(t, ctx, deadRow+" a.strong")
	require.Equal(t, fmt.Sprintf("Job %d · spool admin", ids["dead"]), must(chromedp.Run(ctx, chromedp.Title())))
	stack, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(".attempts details pre")))
	require.NoError(t, err)
	require.Contains(t, stack, "shop.go:42")
	clickAndLoad(t, ctx, "#retry")
	require.Equal(t, "Retried 1 job: it is pending again.", text(t, ctx, ".flash"))
	require.Equal(t, "pending", text(t, ctx, "h1 .badge"))
	require.Equal(t, queue.StatePending, e.state(ids["dead"]))

	// It left the dead list; the other dead job is still there.
	var n int
	clickAndLoad(t, ctx, `nav a[href="/admin/dead"]`)
	n, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#job-list tbody tr').length`))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Contains(t, text(t, ctx, fmt.Sprintf(`tr[data-id="%d"]`, ids["dead2"])), "warehouse API 500")
	gone, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('`+deadRow+`') === null`))
	require.NoError(t, err)
	require.True(t, gone)

	// Retry the other one with its checkbox and "Retry selected".
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name=ids][value="%d"]`, ids["dead2"])))))
	clickAndLoad(t, ctx, `#bulk .selbar button[formaction="/admin/dead/retry"]`)
	require.Equal(t, "Retried 1 job: it is pending again.", text(t, ctx, ".flash"))
	require.Contains(t, text(t, ctx, "main"), "No dead jobs.")
	require.Equal(t, queue.StatePending, e.state(ids["dead2"]))

	// Pause a queue on the queues page.
	clickAndLoad(t, ctx, `nav a[href="/admin/queues"]`)
	clickAndLoad(t, ctx, `tr[data-queue="mail"] button`)
	select {
	case msg := <-dialogs:
		require.Equal(t, "Pause queue mail? Workers stop taking its jobs.", msg)
	case <-ctx.Done():
		t.Fatal("no confirmation asked before pausing")
	}
	require.Equal(t, "Queue paused: workers lease no new jobs from it. Running jobs finish.", text(t, ctx, ".flash"))
	require.Equal(t, "paused", text(t, ctx, `tr[data-queue="mail"] .badge`))

	// Trigger a schedule on the schedules page.
	sc := seedSchedules(e)
	clickAndLoad(t, ctx, `nav a[href="/admin/schedules"]`)
	clickAndLoad(t, ctx, `tr[data-schedule="feed.export"] form[action="/admin/schedules/trigger"] button`)
	select {
	case msg := <-dialogs:
		require.Equal(t, "Run schedule feed.export now, outside its ticks? One feed.export job is enqueued.", msg)
	case <-ctx.Done():
		t.Fatal("no confirmation asked before triggering")
	}
	require.Equal(t, "Schedule feed.export triggered: the next round of a scheduler that has it registered enqueues one job.", text(t, ctx, ".flash"))
	require.Equal(t, "trigger pending", text(t, ctx, `tr[data-schedule="feed.export"] .badge.trigger`))
	require.False(t, scheduleInfo(t, sc, "feed.export").TriggerAt.IsZero())
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestBrowserScreenshots saves a screenshot of every page to
// $SPOOL_ADMIN_SCREENSHOTS, for people to look at: each at 1280 px wide
// (name-1280.png) and at 400 px, as on a phone (name-400.png). It runs
// only when that variable is set, and logs the directory and every file's
// name, so that a CI run says where to look.
func TestBrowserScreenshots(t *testing.T) {
	dir := os.Getenv("SPOOL_ADMIN_SCREENSHOTS")
	if dir == "" {
		t.Skip("set SPOOL_ADMIN_SCREENSHOTS=/some/dir to save screenshots of the admin pages")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	srv, pages := demoServer(t)
	bctx, _ := newBrowser(t, 1280, 900)
	ctx, cancel := context.WithTimeout(bctx, 4*browserTimeout)
	defer cancel()
	t.Logf("screenshots of the admin pages in %s:", dir)
	shoot := func(name string, width int) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		file := fmt.Sprintf("%s-%d.png", name, width)
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), png, 0o644))
		t.Logf("  %s", file)
	}
	for _, width := range []int{1280, 400} {
		require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), 900)))
		for _, p := range pages {
			require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+p.path)))
			shoot(p.name, width)
		}
		// An event's payload, opened.
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin/topics/orders.created?limit=5"),
			chromedp.Click(chromedp.CSS(`tr[data-seq="30"] summary`))))
		shoot("topic-event-open", width)
	}
}

// demoPage is one admin page of the demo, by a name for its screenshot
// and its path.
type demoPage struct{ name, path string }

// demoServer serves the demo (seedDemo, seedDemoSchedulesTopics) under
// /admin and read-only under /ro, and returns the server and every page
// worth looking at.
func demoServer(t *testing.T) (*httptest.Server, []demoPage) {
	t.Helper()
	e := newEnv(t, admin.Options{Prefix: "/admin", RefreshInterval: -1})
	ids := seedDemo(e)
	seedDemoSchedulesTopics(e)
	seedProcesses(e)
	seedCharts(e)
	// A job whose error and metadata hide characters, with a payload too
	// long to show whole.
	long := []byte(`{"note":"` + strings.Repeat("a long line of text ", 4000) + `"}`)
	ids["escaped"] = e.enqueue(queue.NewJob{Kind: "invoice.send", Queue: "mail", Payload: long,
		Metadata: map[string]string{"file": "invoice\u202egnp.exe", "zero\u200bwidth": "x\x1b[2J"}})
	// An order pipeline (dependencies) and a nightly sync (a batch).
	validate := e.enqueue(queue.NewJob{Kind: "order.validate", Queue: "orders"})
	charge := e.enqueue(queue.NewJob{Kind: "order.charge", Queue: "orders", DependsOn: []int64{validate}})
	ids["deps"] = e.enqueue(queue.NewJob{Kind: "order.ship", Queue: "orders", DependsOn: []int64{validate, charge}})
	_, _, err := e.q.EnqueueBatch(context.Background(), queue.BatchSpec{Description: "nightly stock sync",
		OnComplete: &queue.NewJob{Kind: "sync.report", Queue: "reports"}},
		[]queue.NewJob{{Kind: "sync.sku", Queue: "sync"}, {Kind: "sync.sku", Queue: "sync"}})
	require.NoError(t, err)
	ro, err := admin.New(e.q, admin.Options{Prefix: "/ro", NoAuth: true, ReadOnly: true, RefreshInterval: -1})
	require.NoError(t, err)
	// The same with live refresh on (its "live" button in the header), so
	// slow that it never swaps while a screenshot is taken.
	live, err := admin.New(e.q, admin.Options{Prefix: "/live", NoAuth: true, RefreshInterval: time.Hour})
	require.NoError(t, err)
	liveRO, err := admin.New(e.q, admin.Options{Prefix: "/live-ro", NoAuth: true, ReadOnly: true, RefreshInterval: time.Hour})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/admin/", e.h)
	mux.Handle("/ro/", ro)
	mux.Handle("/live/", live)
	mux.Handle("/live-ro/", liveRO)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, []demoPage{
		{"dashboard", "/admin/"},
		{"jobs", "/admin/jobs"},
		{"jobs-filtered", "/admin/jobs?queue=orders&state=scheduled"},
		{"dead", "/admin/dead"},
		{"job-dead", "/admin/jobs/" + strconv.FormatInt(ids["dead"], 10)},
		{"job-running", "/admin/jobs/" + strconv.FormatInt(ids["running"], 10)},
		{"job-output", "/admin/jobs/" + strconv.FormatInt(ids["output"], 10)},
		{"queues", "/admin/queues"},
		{"processes", "/admin/processes"},
		{"charts", "/admin/charts"},
		{"charts-kind", "/admin/charts?kind=send"},
		{"flash", "/admin/dead?done=retried&n=3"},
		{"error-bad-request", "/admin/jobs?state=bogus"},
		{"error-not-found", "/admin/jobs/987654"},
		{"readonly-dead", "/ro/dead"},
		{"readonly-job", "/ro/jobs/" + strconv.FormatInt(ids["dead"], 10)},
		{"schedules", "/admin/schedules?done=triggered&n=1&name=invoice.reminders"},
		{"topics", "/admin/topics"},
		{"topics-replay", "/admin/topics?replay=audit#replay"},
		{"topics-replayed", "/admin/topics?done=replayed&n=12&name=stock"},
		{"topic-events", "/admin/topics/orders.created?limit=12"},
		{"readonly-schedules", "/ro/schedules"},
		{"readonly-topics", "/ro/topics"},
		{"job-escaped", "/admin/jobs/" + strconv.FormatInt(ids["escaped"], 10)},
		{"topics-paged", "/admin/topics?limit=2&after=orders.created"},
		{"live-dashboard", "/live/"},
		{"live-jobs", "/live/jobs"},
		{"live-readonly-queues", "/live-ro/queues"},
		{"job-deps", "/admin/jobs/" + strconv.FormatInt(ids["deps"], 10)},
		{"batches", "/admin/batches"},
	}
}

// At 400 px, as on a phone, and at 800 px, as on a tablet, no page scrolls
// sideways, and the buttons of the job and dead lists (a row's Retry and
// Delete among them) and their reasons lie inside the window: the tables
// stack their rows rather than scroll inside a box (issue 15 item 5).
func TestBrowserNarrow(t *testing.T) {
	t.Parallel()
	srv, pages := demoServer(t)
	bctx, _ := newBrowser(t, 1280, 900)
	ctx, cancel := context.WithTimeout(bctx, 2*browserTimeout)
	defer cancel()
	// The buttons and reasons of a list: every one's box in the window.
	outside := `(() => {
		const out = [];
		const sel = 'main button, main .btn, main input, main select, #job-list td.err, .top nav a';
		for (const el of document.querySelectorAll(sel)) {
			if (el.type === 'hidden') continue;
			const r = el.getBoundingClientRect();
			if (r.width === 0) { out.push('hidden: ' + el.outerHTML.slice(0, 80)); continue; }
			if (r.left < 0 || r.right > window.innerWidth) out.push(Math.round(r.left) + '..' + Math.round(r.right) + ': ' + el.outerHTML.slice(0, 80));
		}
		return out;
	})()`
	for _, width := range []int{400, 800} {
		require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), 900)))
		for _, p := range pages {
			require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+p.path)))
			w, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
			require.NoError(t, err)
			require.Equal(t, width, w[1], "%s: the window is not %d px wide", p.name, width)
			require.LessOrEqual(t, w[0], w[1], "%s (%s) at %d px: the page is %d px wide and scrolls sideways", p.name, p.path, width, w[0])
		}
		for _, path := range []string{"/admin/jobs", "/admin/dead", "/admin/jobs?queue=orders"} {
			require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+path)))
			n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#job-list tbody tr').length`))
			require.NoError(t, err)
			require.Positive(t, n, "%s: no rows", path)
			out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](outside))
			require.NoError(t, err)
			require.Empty(t, out, "%s at %d px: these lie outside the window", path, width)
		}
	}
	// A dead row's Retry and Delete are there to press.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin/dead")))
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#job-list tbody td.actions button').length`))
	require.NoError(t, err)
	require.Equal(t, 8, n, "a Retry and a Delete for each of the 4 dead jobs")
}

// seedDemo makes a realistic picture: a shop's queues with an hour of
// throughput, failures, retries and dead jobs.
func seedDemo(e *env) map[string]int64 {
	ids := map[string]int64{}
	type order struct {
		OrderID    int    `json:"order_id"`
		SKU        string `json:"sku"`
		Quantity   int    `json:"quantity"`
		TotalCents int    `json:"total_cents"`
		Customer   string `json:"customer"`
	}
	skus := []string{"MUG-1", "TEE-M", "CAP-RED", "BAG-2"}
	kinds := []string{"stock.reserve", "payment.charge", "warehouse.notify"}
	for m := 59; m >= 0; m-- {
		e.clock.Add(-time.Duration(m) * time.Minute)
		done := 20 + (m*37)%25
		if m > 20 && m < 26 {
			done = 4 // a dip
		}
		for i := range done {
			j := e.running(queue.NewJob{Kind: kinds[i%3], Queue: "orders", Args: order{OrderID: 1000 + i}})
			e.settle(j, queue.OutcomeComplete, "", "")
		}
		for i := range (m * 7) % 5 {
			j := e.running(queue.NewJob{Kind: "payment.charge", Queue: "orders", Args: order{OrderID: 2000 + m*10 + i, SKU: skus[i%4], Quantity: 1, TotalCents: 1200, Customer: fmt.Sprintf("customer-%d", i)},
				Metadata: map[string]string{"correlation_id": fmt.Sprintf("order-%d", 2000+m*10+i)}})
			e.settle(j, queue.OutcomeRetry, "payment provider: 503 Service Unavailable", "")
		}
		e.clock.Add(time.Duration(m) * time.Minute)
	}
	for i := range 14 {
		e.enqueue(queue.NewJob{Kind: "email.receipt", Queue: "mail", Args: order{OrderID: 3000 + i, Customer: fmt.Sprintf("customer-%d", i)},
			Metadata: map[string]string{"correlation_id": fmt.Sprintf("order-%d", 3000+i)}})
		e.clock.Add(3 * time.Second)
	}
	e.enqueue(queue.NewJob{Kind: "report.daily", Queue: "reports", RunAt: t0.Add(9 * time.Hour), Args: map[string]string{"day": "2026-03-02"}})
	require.NoError(e.t, e.q.Inspector().Pause(context.Background(), "reports"))
	// A partner API behind the orders queue: limits every process obeys.
	require.NoError(e.t, e.q.Inspector().SetQueueSettings(context.Background(), "orders",
		queue.QueueSettings{MaxRunning: 4, RateLimit: 20, RatePeriod: time.Minute}))
	run := e.running(queue.NewJob{Kind: "warehouse.notify", Queue: "orders", Args: order{OrderID: 4242, SKU: "TEE-M", Quantity: 2, TotalCents: 3600, Customer: "ada"},
		Metadata: map[string]string{"correlation_id": "order-4242", "tenant": "eu-1"}, UniqueKey: "warehouse.notify:4242", Timeout: 2 * time.Minute})
	ids["running"] = run.ID
	_, err := e.store.RecordProgress(context.Background(), []queue.ProgressUpdate{{JobID: run.ID, Token: run.LeaseToken,
		Progress: queue.Progress{Fraction: 0.75, Message: "notified 3 of 4 warehouses <b>EU</b>", At: e.clock.Now().Add(-5 * time.Second)}}})
	require.NoError(e.t, err)
	ids["output"] = e.withOutput(queue.NewJob{Kind: "report.export", Queue: "exports", Args: map[string]string{"day": "2026-03-01"}},
		[]byte(`{"rows":1042,"file":"exports/2026-03-01.csv","skipped":["order <1150>"]}`), &queue.Progress{Fraction: 1, Message: "exported 1042 rows"})
	stack := "goroutine 41 [running]:\nruntime/debug.Stack()\n\t/usr/local/go/src/runtime/debug/stack.go:26 +0x5e\ngithub.com/spooljobs/spool/worker.(*Pool).run.func1()\n\t/work/worker/run.go:88 +0x8d\npanic({0x8f2a40?, 0xc000212000?})\n\t/usr/local/go/src/runtime/panic.go:792 +0x132\nmain.(*shop).chargePayment(...)\n\t/work/examples/shop/shop.go:214 +0x1c5"
	dead := e.running(queue.NewJob{Kind: "payment.charge", Queue: "orders", MaxAttempts: 3,
		Args:     order{OrderID: 1150, SKU: "MUG-1", Quantity: 1, TotalCents: 1200, Customer: "bob <bob@example.com>"},
		Metadata: map[string]string{"correlation_id": "order-1150"}})
	dead = e.retryNow(dead, "payment provider: 503 Service Unavailable")
	dead = e.retryNow(dead, "payment provider: context deadline exceeded")
	e.settle(dead, queue.OutcomeDead, "runtime error: invalid memory address or nil pointer dereference", stack)
	ids["dead"] = dead.ID
	for i, msg := range []string{"order 1200 has total 0 cents: nothing to charge", "smtp: 550 mailbox unavailable <script>alert(1)</script>", "warehouse API: 422 unknown SKU \"HAT-9\""} {
		kind := []string{"payment.charge", "email.receipt", "warehouse.notify"}[i]
		q := []string{"orders", "mail", "orders"}[i]
		e.dead(queue.NewJob{Kind: kind, Queue: q, Args: order{OrderID: 1200 + i}}, msg, "")
		e.clock.Add(40 * time.Second)
	}
	return ids
}

// seedDemoSchedulesTopics adds a shop's schedules and event log to the
// demo.
func seedDemoSchedulesTopics(e *env) {
	ctx := context.Background()
	s, err := schedule.New(e.q, schedule.Options{})
	require.NoError(e.t, err)
	for _, en := range []schedule.Entry{
		{Name: "stock.sync.nightly", Spec: "30 2 * * *", TimeZone: "Europe/Berlin", Job: queue.NewJob{Kind: "stock.sync", Queue: "maintenance"}},
		{Name: "feed.export", Spec: "@hourly", Job: queue.NewJob{Kind: "feed.export", Queue: "exports"}},
		{Name: "invoice.reminders", Spec: "0 9 * * 1-5", TimeZone: "Europe/Berlin", Job: queue.NewJob{Kind: "invoice.remind", Queue: "mail"}},
		{Name: "carts.cleanup", Spec: "@every 15m", Job: queue.NewJob{Kind: "carts.cleanup", Queue: "maintenance"}},
		{Name: "happy.hour", Spec: "0 17 * * 5", TimeZone: "Europe/London", Misfire: schedule.MisfireSkip, Job: queue.NewJob{Kind: "promo.notify", Queue: "mail"}},
	} {
		require.NoError(e.t, s.Add(en))
	}
	e.clock.Add(-2 * time.Hour)
	_, err = s.RunOnce(ctx)
	require.NoError(e.t, err)
	e.clock.Add(2 * time.Hour)
	_, err = s.RunOnce(ctx)
	require.NoError(e.t, err)
	require.NoError(e.t, s.Pause(ctx, "happy.hour"))
	require.NoError(e.t, s.Trigger(ctx, "invoice.reminders"))

	for _, sub := range []queue.Subscription{
		{Name: "stock", Pattern: "orders.created", Queue: "stock", Kind: "stock.reserve"},
		{Name: "payment", Pattern: "orders.created", Queue: "payments", Kind: "payment.charge"},
		{Name: "email", Pattern: "orders.*", Queue: "mail", Kind: "email.order"},
		{Name: "audit", Pattern: "#", Kind: "audit.log", Filter: map[string]string{"tenant": "eu-1"}},
	} {
		require.NoError(e.t, e.q.Topics().Subscribe(ctx, sub))
	}
	e.clock.Add(-40 * time.Minute)
	for i := range 30 {
		md := map[string]string{"tenant": []string{"eu-1", "us-2"}[i%2], "correlation_id": fmt.Sprintf("order-%d", 5000+i)}
		_, err := e.q.Publish(ctx, queue.Event{Topic: "orders.created", OrderKey: fmt.Sprintf("order:%d", 5000+i), Metadata: md,
			Args: map[string]any{"order_id": 5000 + i, "customer": fmt.Sprintf("customer-%d", i), "lines": []map[string]any{{"sku": "MUG-1", "qty": 1 + i%3}}, "total_cents": 1200 + 100*i}})
		require.NoError(e.t, err)
		if i%7 == 3 {
			_, err = e.q.Publish(ctx, queue.Event{Topic: "orders.cancelled", Metadata: md, Args: map[string]any{"order_id": 5000 + i, "reason": "customer request"}})
			require.NoError(e.t, err)
		}
		e.clock.Add(80 * time.Second)
	}
	_, err = e.q.Publish(ctx, queue.Event{Topic: "orders.created", Metadata: map[string]string{"tenant": "eu-1", "note": "<script>alert(1)</script>"},
		Args: map[string]any{"order_id": 5099, "customer": "eve <script>alert(1)</script>"}})
	require.NoError(e.t, err)
	require.NoError(e.t, e.q.Topics().SetRetention(ctx, "orders.created", queue.Retention{MaxAge: 30 * 24 * time.Hour, MaxEvents: 100000}))
	require.NoError(e.t, e.q.Topics().SetRetention(ctx, "payments.failed", queue.Retention{MaxAge: 7 * 24 * time.Hour}))
	_, err = e.q.Publish(ctx, queue.Event{Topic: "payments.failed", Args: map[string]any{"order_id": 5003, "error": "card declined"}})
	require.NoError(e.t, err)
	// A subscription added later, still catching up on the log.
	require.NoError(e.t, e.store.Subscribe(ctx, nil, queue.Subscription{Name: "analytics", Pattern: "orders.#", Queue: "analytics", Kind: "analytics.ingest",
		From: queue.StartAt{Beginning: true}}, e.clock.Now()))
	// Work through some of the deliveries.
	completeAll(e, "stock")
	e.clock.Add(2 * time.Minute)
}

// The cells of a topic's event rows share their first line's baseline:
// the sequence number, the time, the ordering key and the payload's
// summary read on one line (issue 15: event-log rows align).
func TestBrowserEventRowsAlign(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{RefreshInterval: -1})
	seedTopics(e)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	bctx, _ := newBrowser(t, 1280, 900)
	ctx, cancel := context.WithTimeout(bctx, browserTimeout)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/topics/orders.created")))
	// A zero-size inline block on the baseline marks where each cell's
	// first line sits.
	spread, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
		const out = [];
		for (const tr of document.querySelectorAll('#event-list tbody tr')) {
			const tops = [];
			for (const sel of ['td.num', 'td.nowrap span', 'td.mono', 'td.payload .preview']) {
				const el = tr.querySelector(sel);
				const m = document.createElement('span');
				m.style.cssText = 'display:inline-block;width:0;height:0;vertical-align:baseline';
				el.insertBefore(m, el.firstChild);
				tops.push(m.getBoundingClientRect().top);
			}
			out.push(Math.max(...tops) - Math.min(...tops));
		}
		return out;
	})()`))
	require.NoError(t, err)
	require.Len(t, spread, 7)
	for i, d := range spread {
		require.LessOrEqual(t, d, 1.0, "event row %d: its cells' baselines lie %.1fpx apart", i, d)
	}
}

// The footer's toggle shows the admin's times in the browser's zone, with
// its offset, and back in UTC; the choice holds across pages and the
// dashboard's refreshes, and times inside job data (an error's text) stay
// as they are (issue 15 item 4: a local-time toggle beside UTC).
func TestBrowserLocalTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{RefreshInterval: time.Second})
	seed(e)
	id := e.dead(queue.NewJob{Kind: "payment.charge", Queue: "orders"}, "bank: declined at 2026-03-02 14:00:00.000 UTC", "")
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	bctx, _ := newBrowser(t, 1280, 900)
	ctx, cancel := context.WithTimeout(bctx, browserTimeout)
	defer cancel()
	_, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Kolkata"})
	require.NoError(t, err)
	kolkata := time.FixedZone("IST", 5*3600+1800)

	created := `[...document.querySelectorAll('.facts dt')].find(d => d.textContent === 'Created').nextElementSibling.firstChild.nodeValue.trim()`
	jobURL := srv.URL + "/jobs/" + strconv.FormatInt(id, 10)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(jobURL)))
	utc := must(chromedp.Run(ctx, chromedp.Evaluate[string](created)))
	at, err := time.Parse("2006-01-02 15:04:05.000 MST", utc)
	require.NoError(t, err, "the page shows times in UTC first")
	local := at.In(kolkata).Format("2006-01-02 15:04:05.000") + " UTC+05:30"
	require.Equal(t, "UTC", text(t, ctx, "#tz-name"))

	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#tz-toggle"))))
	require.Equal(t, local, must(chromedp.Run(ctx, chromedp.Evaluate[string](created))))
	require.Equal(t, "local time (UTC+05:30)", text(t, ctx, "#tz-name"))
	require.Equal(t, "Show UTC", text(t, ctx, "#tz-toggle"))
	require.Equal(t, "bank: declined at 2026-03-02 14:00:00.000 UTC", text(t, ctx, ".attempts .error-msg"),
		"a time inside job data is not the admin's to change")

	// It holds on the next page, and through the dashboard's refresh.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(jobURL)))
	require.Equal(t, local, must(chromedp.Run(ctx, chromedp.Evaluate[string](created))))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")))
	require.Contains(t, text(t, ctx, ".updated"), "UTC+05:30")
	before := text(t, ctx, "#total-pending")
	e.enqueue(queue.NewJob{Kind: "email.receipt", Queue: "mail"})
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("total-pending").textContent !== `+strconv.Quote(before),
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	require.NoError(t, err, "the dashboard did not refresh")
	require.Contains(t, text(t, ctx, ".updated"), "UTC+05:30", "the refreshed part shows local time too")

	// And back to UTC.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#tz-toggle"))))
	require.Regexp(t, `^Updated \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC$`, text(t, ctx, ".updated"))
	require.Equal(t, "UTC", text(t, ctx, "#tz-name"))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(jobURL)))
	require.Equal(t, utc, must(chromedp.Run(ctx, chromedp.Evaluate[string](created))))
}

// The job page shows a running job's progress as a bar with its message,
// and a completed job's output, both escaped.
func TestBrowserJobProgressAndOutput(t *testing.T) {
	t.Parallel()
	srv, pages := demoServer(t)
	bctx, _ := newBrowser(t, 1280, 900)
	ctx, cancel := context.WithTimeout(bctx, browserTimeout)
	defer cancel()
	path := func(name string) string {
		for _, p := range pages {
			if p.name == name {
				return p.path
			}
		}
		t.Fatalf("no demo page %s", name)
		return ""
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+path("job-running"))))
	require.Equal(t, 75, must(chromedp.Run(ctx, chromedp.Evaluate[int](`document.getElementById("progress").value`))))
	require.Equal(t, "notified 3 of 4 warehouses <b>EU</b>", text(t, ctx, "#progress-message"))
	require.Contains(t, text(t, ctx, "#result"), "No output recorded.")

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+path("job-output"))))
	require.Equal(t, 100, must(chromedp.Run(ctx, chromedp.Evaluate[int](`document.getElementById("progress").value`))))
	out := must(chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#output"))))
	require.Contains(t, out, `"skipped": [`+"\n"+`    "order <1150>"`)
	require.Equal(t, 0, must(chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#output *").length`))), "no markup from the output")
}

// The Queues page shows a queue's shared limits (MaxRunning beside its
// running jobs, RateLimit by its status), and a queue without any shows
// none.
func TestBrowserQueueLimits(t *testing.T) {
	t.Parallel()
	srv, _ := demoServer(t)
	bctx, _ := newBrowser(t, 1280, 900)
	ctx, cancel := context.WithTimeout(bctx, browserTimeout)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin/queues")))
	require.Equal(t, "/ 4 max", text(t, ctx, `tr[data-queue="orders"] .max-running`))
	require.Equal(t, "20 per 1m", text(t, ctx, `tr[data-queue="orders"] .rate-limit`))
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('tr[data-queue="mail"] .max-running, tr[data-queue="mail"] .rate-limit').length`))
	require.NoError(t, err)
	require.Zero(t, n, "mail has no limits")
}
