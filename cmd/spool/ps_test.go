package main

// The process command, ps, and the processes in stats.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// recordPools records, as two worker pools would, web-1 working notify
// and the idle reports queue, and web-2 notify; and a stale pool that
// worked mail.
func (f *fixture) recordPools(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	for _, p := range []queue.ProcessInfo{
		{ID: "id-2", Name: "web-2", Host: "host-b", PID: 202, Version: "v1.4.0", StartedAt: now.Add(-2 * time.Hour),
			Queues: []queue.ProcessQueue{{Name: "notify", Concurrency: 3}}},
		{ID: "id-1", Name: "web-1", Host: "host-a", PID: 101, Version: "devel", StartedAt: now.Add(-time.Hour),
			Queues: []queue.ProcessQueue{{Name: "notify", Concurrency: 5, Running: 2}, {Name: "reports", Concurrency: 1}}},
	} {
		p.LastSeen, p.ExpiresAt = now, now.Add(time.Hour)
		require.NoError(t, f.store.RecordProcess(ctx, p))
	}
	require.NoError(t, f.store.RecordProcess(ctx, queue.ProcessInfo{ID: "id-0", Name: "gone", Host: "h", Version: "devel",
		StartedAt: now.Add(-3 * time.Hour), LastSeen: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour),
		Queues: []queue.ProcessQueue{{Name: "mail", Concurrency: 9}}}))
}

func TestCLIPs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := ok(t, "ps", "-db", f.path)
	require.Contains(t, r.stderr, "no live worker pools")

	f.recordPools(t)
	r = ok(t, "ps", "-db", f.path)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	require.Len(t, lines, 3, "a header and the two live pools, not the stale one:\n%s", r.stdout)
	columnsAligned(t, r.stdout, "NAME", "ID", "HOST", "PID", "VERSION", "STARTED", "LAST SEEN", "QUEUES (RUNNING/MAX)")
	require.Regexp(t, `^web-1 +id-1 +host-a +101 +devel +1h ago +(just now|\d+s ago) +notify 2/5, reports 0/1$`, lines[1])
	require.Regexp(t, `^web-2 +id-2 +host-b +202 +v1\.4\.0 +2h ago .* notify 0/3$`, lines[2])

	var out wire.Processes
	okJSON(t, &out, "ps", "-db", f.path)
	require.True(t, out.Tracked)
	require.Len(t, out.Processes, 2)
	require.Equal(t, "web-1", out.Processes[0].Name)
	require.Equal(t, []wire.ProcessQueue{{Name: "notify", Concurrency: 5, Running: 2}, {Name: "reports", Concurrency: 1}}, out.Processes[0].Queues)
	require.Empty(t, out.NextAfter, "every pool shown")

	// -limit bounds the list and says how many more there are.
	r = ok(t, "ps", "-db", f.path, "-limit", "1")
	lines = strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	require.Len(t, lines, 2, r.stdout)
	require.True(t, strings.HasPrefix(lines[1], "web-1 "), r.stdout)
	require.Contains(t, r.stderr, "1 more pool not shown: raise -limit, or see the next page with -after web-1 -after-id id-1")
	out = wire.Processes{}
	okJSON(t, &out, "ps", "-db", f.path, "-limit", "1")
	require.Len(t, out.Processes, 1)
	require.Equal(t, "web-1", out.NextAfter)
	require.Equal(t, "id-1", out.NextAfterID)
	// The next page starts after the pool the last one named.
	r = ok(t, "ps", "-db", f.path, "-limit", "1", "-after", out.NextAfter, "-after-id", out.NextAfterID)
	lines = strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	require.Len(t, lines, 2, r.stdout)
	require.True(t, strings.HasPrefix(lines[1], "web-2 "), r.stdout)
	require.NotContains(t, r.stderr, "not shown")
	out = wire.Processes{}
	okJSON(t, &out, "ps", "-db", f.path, "-after", "web-2", "-after-id", "id-2")
	require.Empty(t, out.Processes, "nothing after the last pool")
	okJSON(t, &out, "ps", "-db", f.path, "-after", "web-1")
	require.Len(t, out.Processes, 2, "a name alone sorts before its pools' IDs")
	fails(t, 2, "-limit 0 is outside 1..1000", "ps", "-db", f.path, "-limit", "0")
	fails(t, 2, "-limit 1001 is outside 1..1000", "ps", "-db", f.path, "-limit", "1001")
}

// stats marks the queues whose pending jobs no live pool works, says why,
// and lists the idle queue a pool works with the summed concurrency.
func TestCLIStatsUnserved(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.recordPools(t)
	r := ok(t, "stats", "-db", f.path)
	table := r.stdout[:strings.Index(r.stdout, "\n\n")+1]
	columnsAligned(t, table, "QUEUE", "PENDING", "LIMIT", "CONCURRENCY")
	rows := map[string]string{}
	for _, l := range strings.Split(strings.TrimRight(table, "\n"), "\n")[1:] {
		rows[strings.Fields(l)[0]] = l
	}
	require.Contains(t, rows["mail"], unservedMark, "pending, worked only by a stale pool")
	require.NotContains(t, rows["notify"], unservedMark)
	require.Regexp(t, ` 8 *$`, rows["notify"], "5 + 3 across the pools")
	require.Contains(t, rows, "reports", "an idle queue a live pool works")
	require.Regexp(t, ` 1 *$`, rows["reports"])
	require.NotContains(t, rows["payments"], unservedMark, "nothing pending")
	require.Contains(t, r.stderr, `note: 1 queue marked "! no live worker": no live worker serves this queue`)

	var st wire.Stats
	okJSON(t, &st, "stats", "-db", f.path)
	require.True(t, st.ProcessesTracked)
	require.Equal(t, 2, st.Processes)
	for _, q := range st.Queues {
		require.Equal(t, q.Name == "mail", q.Unserved, q.Name)
	}
}

// With no live pool at all, stats says so once instead of marking every
// queue with pending jobs; its JSON flags the same queues as unserved and
// sets no_live_pool, as /api/stats does. The admin's dashboard and Queues
// page follow the same rule (admin's TestQueuesShowServedAndUnserved).
func TestCLIStatsNoLivePool(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := ok(t, "stats", "-db", f.path)
	table := r.stdout[:strings.Index(r.stdout, "\n\n")+1]
	require.NotContains(t, table, unservedMark, "no queue marked:\n%s", table)
	require.Contains(t, table, "CONCURRENCY")
	require.Equal(t, 1, strings.Count(r.stderr, "no worker pool is live"), r.stderr)
	require.NotContains(t, r.stderr, "check the queue name", "not the advice for one queue")

	var st wire.Stats
	okJSON(t, &st, "stats", "-db", f.path)
	require.True(t, st.ProcessesTracked)
	require.Zero(t, st.Processes)
	require.True(t, st.NoLivePool)
	pending := 0
	for _, q := range st.Queues {
		require.Equal(t, q.Pending > 0, q.Unserved, q.Name)
		if q.Pending > 0 {
			pending++
		}
	}
	require.Positive(t, pending, "the fixture has pending jobs")
	require.Contains(t, r.stderr, fmt.Sprintf("the pending jobs of %s wait", plural(pending, "queue")))

	// A live pool: the queues it does not work are marked, one by one.
	f.recordPools(t)
	okJSON(t, &st, "stats", "-db", f.path)
	require.False(t, st.NoLivePool)
	r = ok(t, "stats", "-db", f.path)
	require.Contains(t, r.stdout, unservedMark)
	require.NotContains(t, r.stderr, "no worker pool is live")
}
