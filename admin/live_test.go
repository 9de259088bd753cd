package admin_test

import (
	"fmt"
	"html"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
)

// Every list page and a job's page name their fragment under /partial
// (with the page's own query, so a paged list refreshes the page shown,
// and without the flash of the action that led there), and the fragment
// is the page's live parts alone, with what the page shows in them.
func TestLiveFragments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	ids := seed(e)
	seedTopics(e)
	seedSchedules(e)
	seedProcesses(e)
	pending := strconv.FormatInt(ids["pending0"], 10)

	refreshURL := regexp.MustCompile(`<main class="wrap" data-refresh-url="([^"]*)" data-refresh-ms="5000">`)
	for _, c := range []struct {
		page, partial string
		parts         []string // the data-live names
		shows         string   // something the live part shows
	}{
		{"/", "/partial/dashboard", []string{"dashboard"}, `<tr data-queue="mail">`},
		{"/jobs?queue=mail&done=cancelled&n=1&refused=0", "/partial/jobs?queue=mail", []string{"jobs"}, `<tr data-id="` + pending + `">`},
		{"/jobs?state=pending&before=" + pending, "/partial/jobs?before=" + pending + "&state=pending", []string{"jobs"}, `No job matches this filter.`},
		{"/dead?kind=payment.charge&done=retried&n=1&skipped=0&held=5:6", "/partial/dead?kind=payment.charge", []string{"jobs"}, "card declined"},
		{"/jobs/" + pending + "?done=retried&n=1", "/partial/jobs/" + pending, []string{"job"}, `email.receipt`},
		{"/queues?after=mail&limit=1&done=paused&n=1", "/partial/queues?after=mail&limit=1", []string{"queues"}, `<tr data-queue="orders">`},
		{"/processes", "/partial/processes", []string{"processes"}, `<tr data-process="a-id">`},
		{"/schedules?done=triggered&n=1&name=feed.export", "/partial/schedules", []string{"schedules"}, `<tr data-schedule="feed.export">`},
		{"/topics?replay=stock&limit=1", "/partial/topics?limit=1", []string{"topics"}, `<tr data-subscription="audit">`},
		{"/topics/orders.created?to=3", "/partial/topics/orders.created?to=3", []string{"topic-log", "topic-events"}, `<tr data-seq="3">`},
	} {
		body := e.getOK(c.page)
		m := refreshURL.FindStringSubmatch(body)
		require.NotNil(t, m, "%s: no refresh URL on <main>", c.page)
		require.Equal(t, c.partial, html.UnescapeString(m[1]), c.page)
		require.Contains(t, body, `id="live-toggle"`, c.page)

		part := e.getOK(html.UnescapeString(m[1]))
		require.NotContains(t, part, "<html", c.partial)
		require.NotContains(t, part, "<main", c.partial)
		require.NotContains(t, part, `class="flash"`, c.partial)
		for _, name := range c.parts {
			require.Contains(t, body, fmt.Sprintf(`data-live=%q`, name), c.page)
			require.Contains(t, part, fmt.Sprintf(`data-live=%q`, name), c.partial)
		}
		require.Equal(t, len(c.parts), len(regexp.MustCompile(`data-live="`).FindAllString(part, -1)), c.partial)
		require.Contains(t, part, c.shows, c.partial)
	}

	// The fragment shows what changed since the page loaded.
	id := e.enqueue(queue.NewJob{Kind: "email.welcome", Queue: "mail"})
	require.Contains(t, e.getOK("/partial/jobs?queue=mail"), fmt.Sprintf(`<tr data-id="%d">`, id))

	// The jobs list's fragment keeps the bulk bar and the checkboxes.
	part := e.getOK("/partial/jobs")
	require.Contains(t, part, `id="bulk"`)
	require.Contains(t, part, `<input type="checkbox" name="ids" value="`+pending+`"`)
	require.Contains(t, part, `name="csrf"`)

	// Fragments read their query as strictly as their pages.
	w := e.get("/partial/jobs?nope=1")
	require.Equal(t, 400, w.Code)
	w = e.get("/partial/jobs/99999")
	require.Equal(t, 404, w.Code)

	// Refresh off: no fragment URL, no toggle; the fragments still answer.
	off := newEnv(t, admin.Options{RefreshInterval: -1})
	body := off.getOK("/jobs")
	require.NotContains(t, body, "data-refresh-url")
	require.NotContains(t, body, "live-toggle")
	require.Contains(t, off.getOK("/partial/jobs"), `data-live="jobs"`)

	// A page with no live part names none.
	require.NotContains(t, e.get("/nope").Body.String(), "data-refresh-url")
}

// Under a prefix the fragment URL carries it, and the query stays
// escaped.
func TestLiveFragmentPrefix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{Prefix: "/ops/spool"})
	seedTopics(e)
	body := e.getOK("/jobs?kind=orders/eu")
	require.Contains(t, body, `data-refresh-url="/ops/spool/partial/jobs?kind=orders%2Feu"`)
	body = e.getOK("/topics/orders.created")
	require.Contains(t, body, `data-refresh-url="/ops/spool/partial/topics/orders.created"`)
	body = e.getOK("/topics")
	require.Contains(t, body, `data-refresh-url="/ops/spool/partial/topics"`)
	require.Contains(t, e.getOK("/partial/topics"), `data-live="topics"`)
}
