package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
)

// poll waits, in the browser, until the expression is true.
func poll(t *testing.T, ctx context.Context, expr, what string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)))
	require.NoError(t, err, what)
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, expr)
	return v
}

// In the browser: the jobs list refreshes in place while the operator
// works on it. A ticked job stays ticked and the page stays where it was
// scrolled when a new job shows up; nothing is swapped while a form field
// has the focus or the operator paused refreshing with the live toggle.
func TestBrowserLiveJobsList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{Prefix: "/admin", RefreshInterval: time.Second})
	var ids []int64
	for i := range 40 {
		ids = append(ids, e.enqueue(queue.NewJob{Kind: "email.receipt", Queue: "mail", Args: map[string]int{"order": i}}))
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", e.h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	bctx, _ := newBrowser(t, 1280, 600)
	ctx, cancel := context.WithTimeout(bctx, 2*browserTimeout)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin/jobs")))
	require.Equal(t, "live", text(t, ctx, "#live-toggle"))
	row := func(id int64) string { return fmt.Sprintf(`document.querySelector('tr[data-id="%d"]') !== null`, id) }
	box := func(id int64) string { return fmt.Sprintf(`input[name=ids][value="%d"]`, id) }

	// Tick a waiting job's box, scroll, and mark the list so that a swap
	// shows.
	ticked := ids[20]
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(box(ticked)))))
	require.True(t, eval[bool](t, ctx, `document.querySelector('`+box(ticked)+`').checked`))
	y := eval[int](t, ctx, `window.scrollTo(0, 310); document.getElementById("job-list").setAttribute("data-old", "1"); Math.round(window.scrollY)`)
	require.Equal(t, 310, y, "the page is long enough to scroll")

	// A new job shows up without a reload; the tick and the scroll held.
	fresh := e.enqueue(queue.NewJob{Kind: "email.welcome", Queue: "mail"})
	poll(t, ctx, row(fresh), "the jobs list did not refresh to show the new job")
	require.False(t, eval[bool](t, ctx, `document.getElementById("job-list").hasAttribute("data-old")`), "the list was swapped")
	require.True(t, eval[bool](t, ctx, `document.querySelector('`+box(ticked)+`').checked`), "the ticked job is still ticked")
	require.Equal(t, 1, eval[int](t, ctx, `document.querySelectorAll('input[name=ids]:checked').length`), "no other job got ticked")
	require.Equal(t, y, eval[int](t, ctx, `Math.round(window.scrollY)`), "the page stayed where it was scrolled")
	require.Equal(t, "/admin/jobs", eval[string](t, ctx, `location.pathname`), "no reload")

	// While the filter's Kind field has the focus, refreshes are held.
	require.NoError(t, chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(`form.filters input[name=kind]`))))
	held := e.enqueue(queue.NewJob{Kind: "email.welcome", Queue: "mail"})
	poll(t, ctx, `+document.querySelector("main").getAttribute("data-refresh-held") >= 2`, "no refresh was held while a field had the focus")
	require.False(t, eval[bool](t, ctx, row(held)), "the list refreshed while the operator was in a field")
	eval[bool](t, ctx, `document.activeElement.blur(); true`)
	poll(t, ctx, row(held), "the list did not refresh after the field lost the focus")
	require.True(t, eval[bool](t, ctx, `document.querySelector('`+box(ticked)+`').checked`))

	// Paused with the toggle, it stays as it is until resumed.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#live-toggle"))))
	require.Equal(t, "paused", text(t, ctx, "#live-toggle"))
	require.Equal(t, "false", eval[string](t, ctx, `document.getElementById("live-toggle").getAttribute("aria-pressed")`))
	later := e.enqueue(queue.NewJob{Kind: "email.welcome", Queue: "mail"})
	poll(t, ctx, `+document.querySelector("main").getAttribute("data-refresh-held") >= 2`, "no refresh was held while paused")
	require.False(t, eval[bool](t, ctx, row(later)), "the list refreshed while paused")
	// The choice holds across pages (a reload here).
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
	require.Equal(t, "paused", text(t, ctx, "#live-toggle"))
	require.True(t, eval[bool](t, ctx, row(later)), "a reload shows the job")
	last := e.enqueue(queue.NewJob{Kind: "email.welcome", Queue: "mail"})
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#live-toggle"))))
	require.Equal(t, "live", text(t, ctx, "#live-toggle"))
	poll(t, ctx, row(last), "the list did not refresh once live again")
}

// In the browser: a job's page follows the job, and a paged queues list
// refreshes the page it shows.
func TestBrowserLiveJobAndQueues(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{Prefix: "/admin", RefreshInterval: time.Second})
	id := e.enqueue(queue.NewJob{Kind: "email.receipt", Queue: "mail"})
	e.enqueue(queue.NewJob{Kind: "report.daily", Queue: "reports"})
	mux := http.NewServeMux()
	mux.Handle("/admin/", e.h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	bctx, _ := newBrowser(t, 1280, 900)
	ctx, cancel := context.WithTimeout(bctx, browserTimeout)
	defer cancel()

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("%s/admin/jobs/%d", srv.URL, id))))
	require.Equal(t, "pending", text(t, ctx, "h1 .badge"))
	_, err := e.q.Inspector().Cancel(context.Background(), id)
	require.NoError(t, err)
	poll(t, ctx, `document.querySelector("h1 .badge").textContent === "cancelled"`, "the job's page did not follow the job")
	require.Equal(t, 0, eval[int](t, ctx, `document.querySelectorAll("#cancel").length`), "a cancelled job offers no cancel")

	// The second page of the queues, one per page: reports.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin/queues?after=mail&limit=1")))
	require.Equal(t, "1", text(t, ctx, `tr[data-queue="reports"] td[data-label="Pending"]`))
	e.enqueue(queue.NewJob{Kind: "report.daily", Queue: "reports"})
	e.enqueue(queue.NewJob{Kind: "a.b", Queue: "aaa"}) // a queue before this page
	poll(t, ctx, `document.querySelector('tr[data-queue="reports"] td[data-label="Pending"]').textContent === "2"`, "the queues page did not refresh")
	require.Equal(t, 1, eval[int](t, ctx, `document.querySelectorAll("#queue-list tbody tr").length`), "still one queue on the page")
}

// In the browser: an attempt's stack trace the operator opened on a job's
// page stays open on that attempt when a newer failed attempt shows up
// above it (the attempts are newest first).
func TestBrowserLiveJobKeepsOpenStack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{Prefix: "/admin", RefreshInterval: time.Second})
	fail := func(j *queue.Job, stack string) {
		now := e.clock.Now()
		errs, err := e.store.Settle(context.Background(), nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue,
			Outcome: queue.OutcomeRetry, Now: now, RunAt: now, Error: &queue.AttemptError{Attempt: j.Attempt, At: now, Message: "boom", Stack: stack}}})
		require.NoError(t, err)
		require.NoError(t, errs[0])
	}
	j := e.running(queue.NewJob{Kind: "report.daily", Queue: "reports"})
	fail(j, "stack of the first attempt")
	mux := http.NewServeMux()
	mux.Handle("/admin/", e.h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	bctx, _ := newBrowser(t, 1280, 900)
	ctx, cancel := context.WithTimeout(bctx, browserTimeout)
	defer cancel()

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("%s/admin/jobs/%d", srv.URL, j.ID))))
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".attempts details summary"))))
	require.True(t, eval[bool](t, ctx, `document.querySelector(".attempts details").open`))

	e.clock.Add(time.Second)
	now := e.clock.Now()
	res, err := e.store.Lease(context.Background(), queue.LeaseParams{Queue: "reports", Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "worker-2"})
	require.NoError(t, err)
	require.Len(t, res.Jobs, 1)
	fail(res.Jobs[0], "stack of the second attempt")
	poll(t, ctx, `document.querySelectorAll(".attempts details").length === 2`, "the job's page did not show the new attempt")
	open := `Array.from(document.querySelectorAll(".attempts details[open] pre")).map(p => p.textContent).join("|")`
	require.Equal(t, "stack of the first attempt", eval[string](t, ctx, open), "the open stack trace moved to another attempt")
}
