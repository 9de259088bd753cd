package admin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
)

// In the browser: the dashboard flags the queue no live worker serves,
// and the nav leads to the Processes page with the live pools.
func TestBrowserProcesses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{Prefix: "/admin", RefreshInterval: -1})
	seedProcesses(e)
	mux := http.NewServeMux()
	mux.Handle("/admin/", e.h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	bctx, _ := newBrowser(t, 1280, 900)
	ctx, cancel := context.WithTimeout(bctx, browserTimeout)
	defer cancel()

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/admin/")))
	require.Equal(t, "⚠ no live worker", text(t, ctx, `tr[data-queue="typo"] .badge.unserved`))
	require.Contains(t, text(t, ctx, "#unserved-note"), "no live worker serves this queue")
	require.Equal(t, "8 (2)", text(t, ctx, `tr[data-queue="mail"] td.concurrency`))

	clickAndLoad(t, ctx, `nav a[href="/admin/processes"]`)
	require.Equal(t, "Processes · spool admin", must(chromedp.Run(ctx, chromedp.Title())))
	require.Contains(t, text(t, ctx, `tr[data-process="a-id"]`), "web-1")
	require.Contains(t, text(t, ctx, `tr[data-process="a-id"] td.queues`), "mail 2/5, reports 0/1")
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#process-list tbody tr').length`))
	require.NoError(t, err)
	require.Equal(t, 2, n, "the stale pool is not listed")
}
