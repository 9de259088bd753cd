package admin_test

import (
	"context"
	"net/http"
	"regexp"
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
	require.Contains(t, e.getOK("/"), "no live worker", "no pool at all: flagged")
	seedProcesses(e)
	unserved := regexp.MustCompile(`data-queue="([a-z]+)">\s*<td[^>]*>[^\n]*\n\s*<td[^>]*>[^\n]*no live worker`)
	for _, path := range []string{"/", "/queues"} {
		body := e.getOK(path)
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

	st := decode[wire.Stats](t, e.get("/api/stats"))
	require.True(t, st.ProcessesTracked)
	require.Equal(t, 2, st.Processes)
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
