package main

// The queue commands: stats, pause and resume.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type statsOut struct {
	Now    time.Time `json:"now"`
	Queues []struct {
		Name                 string  `json:"name"`
		Pending              int     `json:"pending"`
		Scheduled            int     `json:"scheduled"`
		Blocked              int     `json:"blocked"`
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
