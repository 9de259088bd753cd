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

// A file at schema version 13 (ordering keys found through spool_jobs_order)
// migrates to key-head rows: every key with a pending, scheduled or running
// job gets its row, blocked jobs stay blocked, and the keys move on as
// before: a running head's completion promotes its key's next job, a key
// held by a dead job stays held, and a new job of a free key becomes its
// head.
func TestMigrateOrderHeads(t *testing.T) {
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
		if n > 13 {
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
	us := now.UnixMicro()
	// Key a: a completed job kept, a running head, two blocked. Key b: a
	// scheduled head. Key c: a dead job that holds it, one blocked. Key d:
	// only a cancelled job. Key e: a pending head, one blocked.
	jobs := []struct {
		id    int64
		key   string
		state int
		runAt int64
	}{
		{1, "a", 3, us}, {2, "a", 2, us}, {3, "a", 5, us}, {4, "a", 5, us},
		{5, "b", 1, us + 60e6}, {7, "c", 5, us}, {8, "d", 4, us},
		{9, "e", 0, us}, {10, "e", 5, us},
	}
	for _, j := range jobs {
		_, err = db.Exec(`INSERT INTO spool_jobs (id, queue, kind, state, run_at, max_attempts, created_at, order_key, payload, lease_token, lease_until)
  VALUES (?, 'q', 'k', ?, ?, 3, ?, ?, x'', CASE WHEN ?2 = 2 THEN 77 END, CASE WHEN ?2 = 2 THEN ?3 + 60000000 END)`,
			j.id, j.state, j.runAt, us, j.key)
		require.NoError(t, err)
	}
	_, err = db.Exec(`INSERT INTO spool_dead (id, queue, kind, priority, attempt, max_attempts, timeout_us, created_at, run_at, died_at, reason, order_key, blocks_key, payload)
  VALUES (6, 'q', 'k', 0, 3, 3, 0, ?1, ?1, ?1, 'failed', 'c', 1, x'')`, us)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	heads := func() map[string]int64 {
		t.Helper()
		rows, err := s.DB().Query(`SELECT h.order_key, h.head_id FROM spool_order_heads h JOIN spool_jobs j ON j.id = h.head_id
  WHERE j.state BETWEEN 0 AND 2`)
		require.NoError(t, err)
		defer rows.Close()
		m := map[string]int64{}
		for rows.Next() {
			var k string
			var id int64
			require.NoError(t, rows.Scan(&k, &id))
			m[k] = id
		}
		require.NoError(t, rows.Err())
		return m
	}
	state := func(id int64) queue.State {
		t.Helper()
		j, err := s.Get(ctx, id)
		require.NoError(t, err)
		return j.State
	}
	require.Equal(t, map[string]int64{"a": 2, "b": 5, "e": 9}, heads(), "the keys with a head, and only those")
	// Cancelling e's pending head moves e on.
	_, err = s.Cancel(ctx, nil, 9, now)
	require.NoError(t, err)
	require.Equal(t, queue.StatePending, state(10))
	// Once c's dead job is deleted, c's blocked job moves on.
	require.NoError(t, s.Delete(ctx, nil, 6, now))
	require.Equal(t, queue.StatePending, state(7))

	errs, err := s.Settle(ctx, nil, []queue.Settlement{{JobID: 2, Token: 77, Queue: "q", Kind: "k", OrderKey: "a",
		Outcome: queue.OutcomeComplete, Now: now}})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	require.Equal(t, queue.StatePending, state(3), "a's next job moved on")
	require.Equal(t, queue.StateBlocked, state(4))

	res, err := s.Enqueue(ctx, nil, now, []queue.NewJob{
		{Queue: "q", Kind: "k", OrderKey: "d", RunAt: now, MaxAttempts: 3, Payload: []byte("{}")},
		{Queue: "q", Kind: "k", OrderKey: "b", RunAt: now, MaxAttempts: 3, Payload: []byte("{}")},
	})
	require.NoError(t, err)
	require.Equal(t, queue.StatePending, state(res[0].ID), "d was free")
	require.Equal(t, queue.StateBlocked, state(res[1].ID), "b has its scheduled head")
	require.Equal(t, map[string]int64{"a": 3, "b": 5, "c": 7, "d": res[0].ID, "e": 10}, heads())
}
