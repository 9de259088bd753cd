package admin_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
)

var nextRE = regexp.MustCompile(`rel="next" href="([^"]+)"`)

// The lists by name (topics, subscriptions, queues, schedules) are paged on
// their pages and in the API: limit entries after the name "after", with a
// link to the next page and next_after in the API.
func TestListsPagedByName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	ctx := context.Background()
	for i := range 7 {
		_, err := e.q.Publish(ctx, queue.Event{Topic: fmt.Sprintf("t.%02d", i), Args: i})
		require.NoError(t, err)
		require.NoError(t, e.q.Topics().Subscribe(ctx, queue.Subscription{Name: fmt.Sprintf("s%02d", i), Pattern: fmt.Sprintf("t.%02d", i), Kind: "k"}))
		e.enqueue(queue.NewJob{Kind: "k", Queue: fmt.Sprintf("q%02d", i)})
	}
	seedSchedules(e) // feed.export, happy.hour, stock.sync.nightly

	// Follow the pages of a list; collect each page's data-<attr> rows.
	rowsRE := func(attr string) *regexp.Regexp { return regexp.MustCompile(`<tr data-` + attr + `="([^"]+)"`) }
	follow := func(path, attr string) [][]string {
		subs := attr == "subscription" // the Topics page's second list
		var pages [][]string
		for path != "" && len(pages) < 10 {
			body := e.getOK(path)
			var rows []string
			for _, m := range rowsRE(attr).FindAllStringSubmatch(body, -1) {
				rows = append(rows, m[1])
			}
			pages = append(pages, rows)
			path = ""
			for _, m := range nextRE.FindAllStringSubmatch(body, -1) {
				if strings.HasSuffix(m[1], "#subscriptions") == subs {
					path = html.UnescapeString(m[1])
				}
			}
		}
		return pages
	}
	require.Equal(t, [][]string{{"t.00", "t.01", "t.02"}, {"t.03", "t.04", "t.05"}, {"t.06"}}, follow("/topics?limit=3", "topic"))
	require.Equal(t, [][]string{{"s00", "s01", "s02", "s03", "s04"}, {"s05", "s06"}}, follow("/topics?limit=5", "subscription"))
	require.Equal(t, [][]string{{"exports", "q00", "q01", "q02"}, {"q03", "q04", "q05", "q06"}}, follow("/queues?limit=4", "queue"))
	require.Equal(t, [][]string{{"feed.export", "happy.hour"}, {"stock.sync.nightly"}}, follow("/schedules?limit=2", "schedule"))
	body := e.getOK("/topics?limit=3&after=t.02")
	require.Contains(t, body, `href="/topics?limit=3">← First</a>`)
	require.Contains(t, body, "4–6 of 7")
	require.Contains(t, e.getOK("/topics?after=zzz"), "No topics after this one.")

	// The dashboard shows the first page of queues and links to the rest.
	for i := 7; i < 60; i++ {
		e.enqueue(queue.NewJob{Kind: "k", Queue: fmt.Sprintf("q%02d", i)})
	}
	body = e.getOK("/")
	require.Len(t, rowsRE("queue").FindAllString(body, -1), admin.DefaultPageSize)
	require.Contains(t, body, `11 more queues →</a>`)

	// The API.
	type page struct {
		Topics        []struct{ Name string } `json:"topics"`
		Subscriptions []struct{ Name string } `json:"subscriptions"`
		Queues        []struct{ Name string } `json:"queues"`
		Schedules     []struct{ Name string } `json:"schedules"`
		NextAfter     string                  `json:"next_after"`
	}
	p := decode[page](t, e.get("/api/topics?limit=3&after=t.02"))
	require.Len(t, p.Topics, 3)
	require.Equal(t, "t.03", p.Topics[0].Name)
	require.Equal(t, "t.05", p.NextAfter)
	p = decode[page](t, e.get("/api/topics?after=t.05"))
	require.Len(t, p.Topics, 1)
	require.Empty(t, p.NextAfter)
	p = decode[page](t, e.get("/api/subscriptions?limit=6"))
	require.Len(t, p.Subscriptions, 6)
	require.Equal(t, "s05", p.NextAfter)
	p = decode[page](t, e.get("/api/queues"))
	require.Len(t, p.Queues, admin.DefaultPageSize)
	require.Equal(t, "q48", p.NextAfter)
	p = decode[page](t, e.get("/api/schedules?limit=1&after=feed.export"))
	require.Equal(t, "happy.hour", p.Schedules[0].Name)
	require.Equal(t, "happy.hour", p.NextAfter)
	for _, bad := range []string{"/api/topics?limit=0", "/api/queues?limit=501", "/topics?limit=x", "/schedules?after=a&after=b"} {
		require.Equal(t, http.StatusBadRequest, e.get(bad).Code, bad)
	}
}
