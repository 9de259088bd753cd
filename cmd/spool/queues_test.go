package main

// The queue commands: stats, pause and resume.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

type statsOut struct {
	Now    time.Time `json:"now"`
	Queues []struct {
		Name                 string  `json:"name"`
		Pending              int     `json:"pending"`
		Scheduled            int     `json:"scheduled"`
		Blocked              int     `json:"blocked"`
		BlockedKeys          int     `json:"blocked_keys"`
		StuckKeys            int     `json:"stuck_keys"`
		Running              int     `json:"running"`
		Dead                 int     `json:"dead"`
		OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
		Paused               bool    `json:"paused"`
		MaxPending           int     `json:"max_pending"`
	} `json:"queues"`
	Throughput []struct {
		Minute    time.Time `json:"minute"`
		Completed int       `json:"completed"`
		Failed    int       `json:"failed"`
		Dead      int       `json:"dead"`
	} `json:"throughput"`
}

// stats lists every queue's counts, oldest pending job and pause, aligned,
// and the throughput of the last minutes (-minutes); -json has the same.
func TestCLIStats(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := ok(t, "stats", "-db", f.path)
	for _, want := range []string{"QUEUE", "PENDING", "SCHEDULED", "BLOCKED", "RUNNING", "DEAD", "OLDEST PENDING", "PAUSED", "LIMIT",
		"payments", "mail", "notify", "Last 5 minutes", "MINUTE (UTC)"} {
		require.Contains(t, r.stdout, want)
	}
	columnsAligned(t, r.stdout[:strings.Index(r.stdout, "\n\n")+1], "QUEUE", "PENDING", "SCHEDULED", "DEAD", "PAUSED")
	// The dead payment's attempt waited 3s: bucket (2.5s, 5s], one attempt,
	// so both estimates are the bucket's middle.
	require.Contains(t, r.stdout, "Wait to start (run start minus due time), last hour")
	require.Regexp(t, `(?m)^payments +1 +3\.8s +5s$`, r.stdout, "3.75s and 4.975s, to two figures")

	var st statsOut
	okJSON(t, &st, "stats", "-db", f.path)
	byName := map[string]int{}
	for i, q := range st.Queues {
		byName[q.Name] = i
	}
	require.Len(t, st.Queues, 4, "%+v", st.Queues)
	mail, pay, def, notify := st.Queues[byName["mail"]], st.Queues[byName["payments"]], st.Queues[byName["default"]], st.Queues[byName["notify"]]
	require.True(t, mail.Paused)
	require.Equal(t, 1, mail.Pending)
	require.Greater(t, mail.OldestPendingSeconds, 0.0)
	require.Equal(t, 1, pay.Dead)
	require.False(t, pay.Paused)
	require.Equal(t, 1, def.Scheduled)
	require.Equal(t, 2, notify.Pending)
	require.Len(t, st.Throughput, 5)
	dead := 0
	for _, m := range st.Throughput {
		dead += m.Dead
	}
	require.Equal(t, 1, dead, "the settled dead job counts in the throughput")
	require.WithinDuration(t, time.Now(), st.Now, time.Minute)

	okJSON(t, &st, "stats", "-db", f.path, "-minutes", "2")
	require.Len(t, st.Throughput, 2)
	r = ok(t, "stats", "-db", f.path, "-minutes", "1")
	require.Contains(t, r.stdout, "Last 1 minute: ")
}

// stats shows the ordering keys that jobs are blocked on and the keys
// stuck behind a dead job, per queue, with a note on what to do.
func TestCLIStatsKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for range 3 { // order:1 dies with two jobs behind it; order:2 waits behind a pending job
		_, err := f.q.Enqueue(ctx, queue.NewJob{Kind: "order.update", Queue: "orders", OrderKey: "order:1"})
		require.NoError(t, err)
	}
	for range 2 {
		_, err := f.q.Enqueue(ctx, queue.NewJob{Kind: "order.update", Queue: "orders", OrderKey: "order:2"})
		require.NoError(t, err)
	}
	now := time.Now()
	lease, err := f.store.Lease(ctx, queue.LeaseParams{Queue: "orders", Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "test"})
	require.NoError(t, err)
	require.Len(t, lease.Jobs, 1)
	j := lease.Jobs[0]
	require.Equal(t, "order:1", j.OrderKey)
	errs, err := f.store.Settle(ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue,
		Outcome: queue.OutcomeDead, Now: now, Reason: "permanent error: bad order"}})
	require.NoError(t, err)
	require.NoError(t, errs[0])

	r := ok(t, "stats", "-db", f.path)
	table := r.stdout[:strings.Index(r.stdout, "\n\n")+1]
	columnsAligned(t, table, "QUEUE", "BLOCKED", "BLOCKED KEYS", "STUCK KEYS", "RUNNING")
	var orders []string
	for _, l := range strings.Split(table, "\n") {
		if strings.HasPrefix(l, "orders ") {
			orders = strings.Fields(l)
		}
	}
	// QUEUE PENDING SCHEDULED BLOCKED BLOCKED-KEYS STUCK-KEYS AWAITING-PARENTS RUNNING DEAD ...
	require.Equal(t, []string{"orders", "1", "0", "3", "2", "1", "0", "0", "1"}, orders[:9], "%s", table)
	require.Contains(t, r.stderr, "1 ordering key stuck behind a dead job")

	var st statsOut
	okJSON(t, &st, "stats", "-db", f.path)
	for _, q := range st.Queues {
		if q.Name == "orders" {
			require.Equal(t, 3, q.Blocked)
			require.Equal(t, 2, q.BlockedKeys)
			require.Equal(t, 1, q.StuckKeys)
		}
	}
}

// pause and resume a queue, also one with no jobs yet (with a note).
func TestCLIPauseResume(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	paused := func(name string) bool {
		st, err := f.q.Inspector().Stats(ctx)
		require.NoError(t, err)
		for _, q := range st.Queues {
			if q.Name == name {
				return q.Paused
			}
		}
		return false
	}
	r := ok(t, "resume", "-db", f.path, "mail")
	require.Equal(t, "resumed queue mail\n", r.stdout)
	require.False(t, paused("mail"))
	r = ok(t, "pause", "-db", f.path, "payments")
	require.Equal(t, "paused queue payments\n", r.stdout)
	require.True(t, paused("payments"))
	require.Empty(t, r.stderr)
	var out struct {
		Queue  string `json:"queue"`
		Paused bool   `json:"paused"`
	}
	okJSON(t, &out, "pause", "-db", f.path, "imports")
	require.Equal(t, "imports", out.Queue)
	require.True(t, out.Paused)
	require.True(t, paused("imports"))
	r = ok(t, "pause", "-db", f.path, "imports")
	require.Contains(t, r.stderr, "queue imports has no jobs yet")
}

// spool stats shows a queue's per-partition-key limits beside the
// queue-wide ones, in the table and in -json.
func TestCLIStatsPerKeyLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	require.NoError(t, f.q.Inspector().SetQueueSettings(context.Background(), "payments",
		queue.QueueSettings{MaxRunningPerKey: 3, RateLimitPerKey: 10, RatePeriodPerKey: time.Minute}))
	r := ok(t, "stats", "-db", f.path)
	table := r.stdout[:strings.Index(r.stdout, "\n\n")+1]
	columnsAligned(t, table, "QUEUE", "MAX RUNNING", "RATE", "MAX RUNNING PER KEY", "RATE PER KEY")
	lines := strings.Split(table, "\n")
	col := strings.Index(lines[0], "MAX RUNNING PER KEY")
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "payments ") {
			require.Regexp(t, `^3 +10/1m0s`, l[col:], "the per-key cells: %q", l)
		}
	}
	var st wire.Stats
	okJSON(t, &st, "stats", "-db", f.path)
	for _, q := range st.Queues {
		if q.Name == "payments" {
			require.Equal(t, 3, q.MaxRunningPerKey)
			require.Equal(t, 10, q.RateLimitPerKey)
			require.Equal(t, 60.0, q.RatePeriodPerKeySeconds)
		}
	}
}
