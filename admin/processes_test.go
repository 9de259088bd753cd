package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// seedProcesses records two live pools and one stale one, as worker
// pools on other hosts would: web-1 works mail and the idle reports queue,
// web-2 mail; the stale one worked typo, where a job waits.
func seedProcesses(e *env) {
	e.t.Helper()
	ctx := context.Background()
	now := e.clock.Now()
	for _, p := range []queue.ProcessInfo{
		{ID: "b-id", Name: "web-2", Host: "host-b", PID: 22, Version: "v1.4.0", StartedAt: now.Add(-2 * time.Hour),
			Queues: []queue.ProcessQueue{{Name: "mail", Concurrency: 3}}},
		{ID: "a-id", Name: "web-1", Host: "host-a", PID: 11, Version: "v1.4.0", StartedAt: now.Add(-time.Hour),
			Queues: []queue.ProcessQueue{{Name: "mail", Concurrency: 5, Running: 2}, {Name: "reports", Concurrency: 1}}},
	} {
		p.LastSeen, p.ExpiresAt = now, now.Add(30*time.Second)
		require.NoError(e.t, e.store.RecordProcess(ctx, p))
	}
	require.NoError(e.t, e.store.RecordProcess(ctx, queue.ProcessInfo{ID: "gone", Name: "old-host", Host: "h", Version: "devel",
		StartedAt: now.Add(-3 * time.Hour), LastSeen: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Hour + 30*time.Second),
		Queues: []queue.ProcessQueue{{Name: "typo", Concurrency: 9}}}))
	e.enqueue(queue.NewJob{Kind: "k", Queue: "mail"})
	e.enqueue(queue.NewJob{Kind: "k", Queue: "typo"})
}

func TestProcessesPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	body := e.getOK("/processes")
	require.Contains(t, body, `id="processes-none"`, "no pool yet")
	seedProcesses(e)

	body = e.getOK("/processes")
	require.Contains(t, body, `href="/processes" class="active"`, "the nav link, active")
	require.Regexp(t, `(?s)data-process="a-id".*web-1.*host-a.*>11<.*v1\.4\.0.*1h ago.*mail</a> <span class="muted">2/5</span>, <a[^>]*>reports</a> <span class="muted">0/1</span>.*data-process="b-id".*web-2`, body,
		"each live pool by name with host, pid, version, start and its queues' running/concurrency")
	require.NotContains(t, body, "old-host", "a stale pool is not listed")
	require.Contains(t, e.getOK("/"), `href="/processes"`, "every page links to it")

	w := e.get("/api/processes")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	got := decode[wire.Processes](t, w)
	require.True(t, got.Tracked)
	require.Len(t, got.Processes, 2)
	require.Equal(t, "web-1", got.Processes[0].Name)
	require.Equal(t, []wire.ProcessQueue{{Name: "mail", Concurrency: 5, Running: 2}, {Name: "reports", Concurrency: 1}}, got.Processes[0].Queues)
	require.Equal(t, t0.Add(-time.Hour), got.Processes[0].StartedAt)
	require.Contains(t, w.Body.String(), `"started_at": "2026-03-02T13:30:00Z"`)
}

// The dashboard and the Queues page list the idle queue a live pool works
// with the concurrency summed across pools, and flag the queue whose
// pending jobs no live pool works; so do /api/stats and /api/queues.
func TestQueuesShowServedAndUnserved(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	e.enqueue(queue.NewJob{Kind: "k", Queue: "typo"})
	e.enqueue(queue.NewJob{Kind: "k", Queue: "mail"})
	unserved := regexp.MustCompile(`data-queue="([a-z]+)">\s*<td[^>]*>[^\n]*\n\s*<td[^>]*>[^\n]*no live worker`)
	// No pool at all: said once, not on every queue with pending jobs (the
	// API flags each of them, and says why once).
	for _, path := range []string{"/", "/queues"} {
		body := e.getOK(path)
		require.Equal(t, 1, strings.Count(body, `id="no-pool-note"`), path)
		require.Contains(t, body, "No worker pool is live", path)
		require.NotContains(t, body, `id="unserved-note"`, path)
		require.Empty(t, unserved.FindAllStringSubmatch(body, -1), path)
	}
	st := decode[wire.Stats](t, e.get("/api/stats"))
	require.True(t, st.NoLivePool)
	for _, q := range st.Queues {
		require.True(t, q.Unserved, q.Name)
	}
	seedProcesses(e)
	for _, path := range []string{"/", "/queues"} {
		body := e.getOK(path)
		require.NotContains(t, body, `id="no-pool-note"`, path)
		require.Contains(t, body, `id="unserved-note"`, path)
		require.Contains(t, body, "no live worker serves this queue", path)
		var flagged []string
		for _, m := range unserved.FindAllStringSubmatch(body, -1) {
			flagged = append(flagged, m[1])
		}
		require.Equal(t, []string{"typo"}, flagged, path)
		require.Regexp(t, `(?s)data-queue="mail".*class="num concurrency" data-label="Concurrency">8 <span class="muted" title="live pools">\(2\)`, body, path)
		require.Regexp(t, `(?s)data-queue="reports".*class="num concurrency" data-label="Concurrency">1 <span`, body, path+": the idle queue a pool works")
	}

	st = decode[wire.Stats](t, e.get("/api/stats"))
	require.True(t, st.ProcessesTracked)
	require.Equal(t, 2, st.Processes)
	require.False(t, st.NoLivePool)
	byName := map[string]wire.Queue{}
	for _, q := range st.Queues {
		byName[q.Name] = q
	}
	require.True(t, byName["typo"].Unserved)
	require.False(t, byName["mail"].Unserved)
	require.Equal(t, 8, byName["mail"].Concurrency)
	require.Equal(t, 2, byName["mail"].Workers)
	qs := decode[wire.Queues](t, e.get("/api/queues"))
	require.Len(t, qs.Queues, 3, "mail, reports (idle) and typo")
}

// untracked is a store that keeps no process rows: only queue.Store's
// methods are promoted.
type untracked struct{ queue.Store }

func TestProcessesUntracked(t *testing.T) {
	t.Parallel()
	_, store, clock := newTestQueue(t)
	q, err := queue.New(untracked{store}, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	h, err := admin.New(q, admin.Options{NoAuth: true})
	require.NoError(t, err)
	e := &env{t: t, q: q, store: store, clock: clock, h: h}
	e.enqueue(queue.NewJob{Kind: "k", Queue: "mail"})
	body := e.getOK("/processes")
	require.Contains(t, body, `id="processes-untracked"`)
	require.Contains(t, body, "does not implement queue.ProcessStore")
	require.NotContains(t, e.getOK("/"), "no live worker", "without process rows nothing is flagged")
	require.NotContains(t, e.getOK("/queues"), "Concurrency")
	require.False(t, decode[wire.Processes](t, e.get("/api/processes")).Tracked)
}

// The processes are paged like the other lists, in their order (name,
// then ID): pools of one name on many hosts page too, on the page and in
// the API.
func TestProcessesPaged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	now := e.clock.Now()
	for _, p := range []struct{ id, name string }{{"z", "web"}, {"a", "web"}, {"m", "web"}, {"b", "api"}, {"c", "zeta"}} {
		require.NoError(t, e.store.RecordProcess(context.Background(), queue.ProcessInfo{ID: p.id, Name: p.name, Host: "h-" + p.id,
			StartedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Minute)}))
	}
	rowRE := regexp.MustCompile(`<tr data-process="([^"]+)">`)
	rows := func(body string) []string {
		var ids []string
		for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
			ids = append(ids, m[1])
		}
		return ids
	}
	body := e.getOK("/processes?limit=2")
	require.Equal(t, []string{"b", "a"}, rows(body))
	require.Contains(t, body, "1–2 of 5")
	require.Contains(t, body, `href="/processes?after=web&amp;after_id=a&amp;limit=2"`)
	body = e.getOK("/processes?after=web&after_id=a&limit=2")
	require.Equal(t, []string{"m", "z"}, rows(body), "the page after web/a: the other pools named web")
	require.Contains(t, body, `href="/processes?after=web&amp;after_id=z&amp;limit=2"`)
	require.Contains(t, body, `href="/processes?limit=2"`, "back to the first page")
	body = e.getOK("/processes?after=web&after_id=z&limit=2")
	require.Equal(t, []string{"c"}, rows(body))
	require.NotContains(t, body, `rel="next"`)
	// A pool that went away between pages: the next page starts after its place.
	require.Equal(t, []string{"m", "z"}, rows(e.getOK("/processes?after=web&after_id=b&limit=2")))
	require.Contains(t, e.getOK("/processes?after=zzz"), "No processes after this one.")

	// The API: the same pages, next_after and next_after_id to go on.
	var ids []string
	q := "/api/processes?limit=2"
	for range 5 {
		got := decode[wire.Processes](t, e.get(q))
		require.LessOrEqual(t, len(got.Processes), 2)
		for _, p := range got.Processes {
			ids = append(ids, p.ID)
		}
		if got.NextAfter == "" {
			require.Empty(t, got.NextAfterID)
			break
		}
		q = "/api/processes?limit=2&after=" + url.QueryEscape(got.NextAfter) + "&after_id=" + url.QueryEscape(got.NextAfterID)
	}
	require.Equal(t, []string{"b", "a", "m", "z", "c"}, ids)
	require.Len(t, decode[wire.Processes](t, e.get("/api/processes")).Processes, 5, "default page: 50")
	require.Equal(t, http.StatusBadRequest, e.get("/api/processes?limit=501").Code)
	require.Equal(t, http.StatusBadRequest, e.get("/processes?after_id="+strings.Repeat("x", 2000)).Code)
}
