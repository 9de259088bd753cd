package admin

import (
	"context"
	"net/http"
	"strings"
)

// Live refresh. A page whose template defines "live" keeps its changing
// parts in elements with a data-live attribute (each part's template
// writes its own element, so that the page and its fragment share them).
// The page's <main> carries data-refresh-url, the same page under
// /partial with the same query (so a paged list refreshes the page shown),
// whose answer is the "live" template alone; admin.js fetches it every
// Options.RefreshInterval and swaps each part in place, keeping the ticked
// checkboxes and the scroll position. Without JavaScript nothing fetches
// the fragments and every page works as before.

// fragmentKey marks a request for a page's live parts alone.
type fragmentKey struct{}

// fragment serves a page handler's live parts alone: render writes the
// page's "live" template instead of the layout.
func (h *Handler) fragment(serve func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		return serve(w, r.WithContext(context.WithValue(r.Context(), fragmentKey{}, true)))
	}
}

// isFragment reports whether r asks for a page's live parts alone.
func isFragment(r *http.Request) bool {
	v, _ := r.Context().Value(fragmentKey{}).(bool)
	return v
}

// refreshDrop are the query parameters a page's fragment URL leaves out:
// the flash of the action that led to the page (the notice is not a live
// part) and the open replay form of the topics page.
var refreshDrop = []string{"done", "n", "refused", "stopped", "remaining", "skipped", "held", "name", "replay"}

// setRefresh points pg at its fragment, when refreshing is on: the page's
// own path under /partial ("/" is /partial/dashboard) and its query
// without refreshDrop.
func (h *Handler) setRefresh(pg *page, r *http.Request) {
	if h.opts.RefreshInterval <= 0 {
		return
	}
	path := strings.TrimPrefix(r.URL.EscapedPath(), h.opts.Prefix)
	if path == "/" || path == "" {
		path = "/dashboard"
	}
	q := r.URL.Query()
	for _, k := range refreshDrop {
		q.Del(k)
	}
	u := h.url("/partial" + path)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	pg.RefreshURL = u
	pg.RefreshMS = h.opts.RefreshInterval.Milliseconds()
	pg.RefreshEvery = shortDuration(h.opts.RefreshInterval)
}

// liveRoutes are the fragments of the pages that refresh in place.
func (h *Handler) liveRoutes() []route {
	return []route{
		{"GET", "/partial/dashboard", h.fragment(h.dashboardPage)},
		{"GET", "/partial/jobs", h.fragment(h.jobsPage)},
		{"GET", "/partial/jobs/{id}", h.fragment(h.jobPage)},
		{"GET", "/partial/dead", h.fragment(h.deadPage)},
		{"GET", "/partial/queues", h.fragment(h.queuesPage)},
		{"GET", "/partial/processes", h.fragment(h.processesPage)},
		{"GET", "/partial/schedules", h.fragment(h.schedulesPage)},
		{"GET", "/partial/topics", h.fragment(h.topicsPage)},
		{"GET", "/partial/topics/{name...}", h.fragment(h.topicPage)},
	}
}
