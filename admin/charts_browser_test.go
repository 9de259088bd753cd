package admin_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

// In the browser, after a real workload through a real worker pool: the
// Charts page shows the kind's and the queue's bars and wait line with
// the numbers the worker's settles recorded (its Kind and Wait), every
// axis label lies inside the window at 400 px and is drawn at a readable
// size, and the local-time toggle rewrites the page's times.
func TestBrowserCharts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{Prefix: "/admin", RefreshInterval: -1})

	// The workload: 12 jobs of kind "send" due 3s before the (fake) clock's
	// now, so each waited 3s; the worker fails every fourth once.
	const jobs = 12
	done := make(chan struct{}, 2*jobs)
	pool, err := worker.New(e.q, worker.Options{Queues: map[string]worker.QueueConfig{"mail": {MaxWorkers: 4}},
		Backoff: func(int) time.Duration { return time.Hour }, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	pool.HandleFunc("send", func(ctx context.Context, j *queue.Job) error {
		defer func() { done <- struct{}{} }()
		if j.ID%4 == 0 {
			return errors.New("smtp timeout")
		}
		return nil
	})
	for range jobs {
		e.enqueue(queue.NewJob{Kind: "send", Queue: "mail", RunAt: e.clock.Now().Add(-3 * time.Second)})
	}
	require.NoError(t, pool.Start(context.Background()))
	for range jobs {
		select {
		case <-done:
		case <-time.After(browserTimeout):
			t.Fatal("the worker pool did not run the jobs")
		}
	}
	require.NoError(t, pool.Stop(context.Background()))

	mux := http.NewServeMux()
	mux.Handle("/admin/", e.h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	bctx, _ := newBrowser(t, 400, 900)
	ctx, cancel := context.WithTimeout(bctx, browserTimeout)
	defer cancel()
	_, err = chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(400, 900)))

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin/")))
	clickAndLoad(t, ctx, `nav a[href="/admin/charts"]`)
	require.Equal(t, "Charts · spool admin", must(chromedp.Run(ctx, chromedp.Title())))
	card := `article[data-series="kind"][data-name="send"]`
	require.Equal(t, "9", text(t, ctx, card+" dd.completed"))
	require.Equal(t, "3", text(t, ctx, card+" dd.failed"))
	require.Equal(t, "3.8s", text(t, ctx, card+" dd.wait-p50"), "12 waits of 3s: rank 6 of 12 in bucket (2.5s, 5s], estimated at its middle")
	require.Equal(t, "9", text(t, ctx, `article[data-series="queue"][data-name="mail"] dd.completed`))
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+card+` svg.bars rect.ok').length`))
	require.NoError(t, err)
	require.Equal(t, 1, n, "one minute of completions drawn")
	n, err = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+card+` svg.waits g.dot').length`))
	require.NoError(t, err)
	require.Equal(t, 1, n, "one minute of waits drawn")

	// Every label of every chart: inside the window, 9 px or more.
	labels, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
		const out = [];
		const all = document.querySelectorAll('svg.chart.mini text.axis');
		if (all.length === 0) out.push('no labels');
		for (const el of all) {
			const r = el.getBoundingClientRect();
			if (r.left < 0 || r.right > window.innerWidth) out.push('outside ' + Math.round(r.left) + '..' + Math.round(r.right) + ': ' + el.textContent);
			if (r.height < 9) out.push('small ' + r.height.toFixed(1) + ' px: ' + el.textContent);
		}
		if (document.documentElement.scrollWidth > window.innerWidth) out.push('the page scrolls sideways');
		return out;
	})()`))
	require.NoError(t, err)
	require.Empty(t, labels)

	// The local-time toggle rewrites the hour's bounds and the bars' titles.
	sub := text(t, ctx, ".page-head .sub")
	require.Contains(t, sub, " UTC to ")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#tz-toggle"))))
	sub = text(t, ctx, ".page-head .sub")
	require.Contains(t, sub, "UTC+09:00 to ", "times in Tokyo's zone")
	title, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('`+card+` svg.bars g.bar:last-of-type title').textContent`))
	require.NoError(t, err)
	require.Contains(t, title, "UTC+09:00: ", "a bar's title in local time")
}
