package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// A file at schema version 5 (throughput per minute and queue) migrates to
// counts per minute, queue and kind: its rows move over with the empty kind and
// no waits, Stats still sums them, and new settles count per kind with
// their waits into the same table.
func TestMigrateMetricsKinds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spool.db")
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE spool_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`)
	require.NoError(t, err)
	files, err := filepath.Glob("migrations/*.sql")
	require.NoError(t, err)
	for _, f := range files {
		num, name, _ := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".sql"), "_")
		n, err := strconv.Atoi(num)
		require.NoError(t, err)
		if n > 5 {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = db.Exec(string(b))
		require.NoError(t, err, f)
		_, err = db.Exec(`INSERT INTO spool_migrations VALUES (?, ?, 1)`, n, name)
		require.NoError(t, err)
	}
	now := time.Date(2026, 3, 2, 14, 30, 20, 0, time.UTC)
	minute := now.Truncate(time.Minute)
	_, err = db.Exec(`INSERT INTO spool_metrics (minute, queue, completed, failed, dead) VALUES (?, 'mail', 7, 2, 1), (?, 'mail', 3, 0, 0)`,
		minute.Unix(), minute.Add(-time.Minute).Unix())
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	q, err := queue.New(s, queue.Options{Now: func() time.Time { return now }})
	require.NoError(t, err)
	_, err = q.Enqueue(ctx, queue.NewJob{Kind: "send", Queue: "mail", RunAt: now.Add(-3 * time.Second)})
	require.NoError(t, err)
	lease, err := s.Lease(ctx, queue.LeaseParams{Queue: "mail", Limit: 1, Worker: "w", Now: now, Until: now.Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, lease.Jobs, 1)
	j := lease.Jobs[0]
	errs, err := s.Settle(ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Kind: j.Kind, Wait: j.Waited(),
		Outcome: queue.OutcomeComplete, Now: now}})
	require.NoError(t, err)
	require.NoError(t, errs[0])

	rows, err := s.Metrics(ctx, minute.Add(-time.Hour))
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, queue.MinuteMetrics{Minute: minute.Add(-time.Minute), Queue: "mail", Completed: 3}, rows[0])
	require.Equal(t, queue.MinuteMetrics{Minute: minute, Queue: "mail", Completed: 7, Failed: 2, Dead: 1}, rows[1], "the old row, kind '' and no waits")
	require.Equal(t, queue.MinuteMetrics{Minute: minute, Queue: "mail", Kind: "send", Completed: 1, Wait: queue.WaitHistogram{9: 1}}, rows[2])
	st, err := s.Stats(ctx, now)
	require.NoError(t, err)
	last := st.Throughput[len(st.Throughput)-1]
	require.Equal(t, [3]int{8, 2, 1}, [3]int{last.Completed, last.Failed, last.Dead})
	var old int
	require.NoError(t, s.DB().QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'spool_metrics'`).Scan(&old))
	require.Zero(t, old, "one table: the old one is gone")
}
