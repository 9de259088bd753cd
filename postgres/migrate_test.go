package postgres_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
)

// schemaAt creates schema at version v from the migration files, as a
// build of spool whose newest migration was v left it.
// oldSchema makes a fresh schema at version v, as a build of that version
// left it, and returns the server's URL, the schema and a pool on it
// (closed when t ends).
func oldSchema(t *testing.T, v int) (url, schema string, db *sql.DB) {
	t.Helper()
	url = pgtest.URL(t)
	schema = pgtest.Schema(t, url)
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	schemaAt(t, db, schema, v)
	return url, schema, db
}

func schemaAt(t *testing.T, db *sql.DB, schema string, v int) {
	t.Helper()
	ctx := context.Background()
	q := `"` + schema + `".`
	_, err := db.ExecContext(ctx, `CREATE SCHEMA "`+schema+`"`)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `CREATE TABLE `+q+`migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`)
	require.NoError(t, err)
	files, err := filepath.Glob("migrations/*.sql")
	require.NoError(t, err)
	applied := 0
	for _, f := range files {
		num, name, _ := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".sql"), "_")
		n, err := strconv.Atoi(num)
		require.NoError(t, err)
		if n > v {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, regexp.MustCompile(`\bspool\.`).ReplaceAllString(string(b), q))
		require.NoError(t, err, f)
		_, err = db.ExecContext(ctx, `INSERT INTO `+q+`migrations VALUES ($1, $2, 1)`, n, name)
		require.NoError(t, err)
		applied++
	}
	require.Equal(t, v, applied)
}

// A schema at version 3 (every subscription with a cursor, moved by each
// publish) migrates to caught-up subscriptions without cursors: those
// whose cursor was the newest event are caught up, the others stay
// behind where they were. Until then a store that must not migrate
// refuses it; after, each subscription reports the cursor and backlog it
// had and receives what it would have.
func TestMigrateCaughtUpCursors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const previous = 3 // before 0004_caught_up_cursors.sql
	url, schema, db := oldSchema(t, previous)

	// Events 1-6 of orders and 7-10 of stock; subscriptions caught up at
	// 10, behind at 4 and at 0.
	q := `"` + schema + `".`
	created := time.Now().UnixMicro()
	for _, stmt := range []string{
		`INSERT INTO ` + q + `topics (name, last_seq, updated_at) VALUES ('orders', 6, 1), ('stock', 4, 1)`,
		`INSERT INTO ` + q + `events (id, topic, seq, published_at, payload)
  SELECT i, CASE WHEN i <= 6 THEN 'orders' ELSE 'stock' END, CASE WHEN i <= 6 THEN i ELSE i - 6 END, 1, ''::bytea
  FROM generate_series(1, 10) i`,
		`UPDATE ` + q + `event_log SET last_event_id = 10`,
		`INSERT INTO ` + q + `subscriptions (name, pattern, filter, queue, kind, cursor, created_at) VALUES
  ('caught', '#', NULL, 'q', 'k', 10, ` + strconv.FormatInt(created, 10) + `),
  ('filtered', 'stock', '{"k":"v"}', 'q', 'k', 10, ` + strconv.FormatInt(created, 10) + `),
  ('half', 'orders', NULL, 'q', 'k', 4, ` + strconv.FormatInt(created, 10) + `),
  ('fresh', '#', NULL, 'q', 'k', 0, ` + strconv.FormatInt(created, 10) + `)`,
	} {
		_, err := db.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}

	_, err := postgres.Open(ctx, url, postgres.Options{Schema: schema, MaxConns: 2, NoMigrate: true})
	var se *queue.SchemaError
	require.ErrorAs(t, err, &se)
	require.Equal(t, previous, se.Have)
	require.Equal(t, postgres.SchemaVersion(), se.Want)

	s, err := postgres.Open(ctx, url, postgres.Options{Schema: schema, MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	logDeliveries(t, s)

	stored := map[string]sql.NullInt64{}
	rows, err := db.QueryContext(ctx, `SELECT name, cursor FROM `+q+`subscriptions`)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		var c sql.NullInt64
		require.NoError(t, rows.Scan(&name, &c))
		stored[name] = c
	}
	require.NoError(t, rows.Err())
	require.Equal(t, map[string]sql.NullInt64{
		"caught": {}, "filtered": {}, "half": {Int64: 4, Valid: true}, "fresh": {Int64: 0, Valid: true},
	}, stored)

	progress := func() map[string][2]int64 {
		subs, err := s.Subscriptions(ctx)
		require.NoError(t, err)
		out := map[string][2]int64{}
		for _, sub := range subs {
			out[sub.Name] = [2]int64{sub.Cursor, int64(sub.Backlog)}
		}
		return out
	}
	require.Equal(t, map[string][2]int64{"caught": {10, 0}, "filtered": {10, 0}, "half": {4, 6}, "fresh": {0, 10}}, progress())
	subs, err := s.Subscriptions(ctx)
	require.NoError(t, err)
	for _, sub := range subs {
		if sub.Name == "filtered" {
			require.Equal(t, map[string]string{"k": "v"}, sub.Filter)
		}
	}

	now := time.Now()
	publish := func(topic string, md map[string]string) {
		_, err := s.Publish(ctx, nil, now, queue.Event{Topic: topic, Metadata: md, Payload: []byte{}}, queue.NewJob{})
		require.NoError(t, err)
	}
	publish("orders", nil)                        // 11: caught only (half and fresh are behind)
	publish("stock", map[string]string{"k": "v"}) // 12: caught, filtered
	require.Equal(t, []int64{11, 12}, deliveries(t, s, "caught"))
	require.Equal(t, []int64{12}, deliveries(t, s, "filtered"))
	require.Empty(t, deliveries(t, s, "half"))
	require.Empty(t, deliveries(t, s, "fresh"))

	n, err := s.DeliverBacklog(ctx, now, 1000, queue.NewJob{})
	require.NoError(t, err)
	require.Equal(t, 3+12, n)
	publish("orders", nil) // 13: caught, half, fresh
	require.Equal(t, []int64{11, 12, 13}, deliveries(t, s, "caught"))
	require.Equal(t, []int64{12}, deliveries(t, s, "filtered"))
	require.Equal(t, []int64{5, 6, 11, 13}, deliveries(t, s, "half"))
	require.Equal(t, idRange(1, 13), deliveries(t, s, "fresh"))
	require.Equal(t, map[string][2]int64{"caught": {13, 0}, "filtered": {13, 0}, "half": {13, 0}, "fresh": {13, 0}}, progress())
}

// Migration 5 counts throughput in slots, in a table of its own: a schema
// at version 4 keeps its counters, stores opened on it afterwards add to
// their own slots, and what a host of the older build still counts into
// spool.metrics meanwhile (a rolling upgrade) is summed too.
func TestMigrateMetricsSlots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, schema, db := oldSchema(t, 4)
	minute := time.Now().Truncate(time.Minute)
	_, err := db.ExecContext(ctx, `INSERT INTO "`+schema+`".metrics (minute, queue, completed, failed, dead) VALUES ($1, 'default', 7, 2, 1)`, minute.Unix())
	require.NoError(t, err)

	stores := make([]*postgres.Store, 3)
	for i := range stores {
		s, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	for _, s := range stores {
		q, err := queue.New(s, queue.Options{Now: func() time.Time { return minute.Add(30 * time.Second) }})
		require.NoError(t, err)
		_, err = q.Enqueue(ctx, queue.NewJob{Kind: "k"})
		require.NoError(t, err)
		lease, err := s.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 1, Worker: "w", Now: q.Now(), Until: q.Now().Add(time.Minute)})
		require.NoError(t, err)
		require.Len(t, lease.Jobs, 1)
		j := lease.Jobs[0]
		errs, err := s.Settle(ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Outcome: queue.OutcomeComplete, Now: q.Now()}})
		require.NoError(t, err)
		require.NoError(t, errs[0])
	}
	_, err = db.ExecContext(ctx, `INSERT INTO "`+schema+`".metrics AS m (minute, queue, completed, failed, dead) VALUES ($1, 'default', 1, 0, 0)
  ON CONFLICT (minute, queue) DO UPDATE SET completed = m.completed + excluded.completed`, minute.Unix())
	require.NoError(t, err, "an older build's count still goes in")
	st, err := stores[0].Stats(ctx, minute.Add(30*time.Second))
	require.NoError(t, err)
	var completed, failed, dead int
	for _, m := range st.Throughput {
		completed, failed, dead = completed+m.Completed, failed+m.Failed, dead+m.Dead
	}
	require.Equal(t, []int{11, 2, 1}, []int{completed, failed, dead}, "the old row, the three stores' completions and the older build's")
}

// Migration 7 counts per minute, queue, kind and slot with wait histograms
// in spool.metrics_kinds. The older tables stay: what they hold, and what a
// host of an older build still counts into spool.metrics_slots during a
// rolling upgrade, is summed in as the empty kind without waits, by Stats and by
// Metrics; Prune empties all three.
func TestMigrateMetricsKinds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, schema, db := oldSchema(t, 6)
	now := time.Now().Truncate(time.Minute).Add(20 * time.Second)
	minute := now.Truncate(time.Minute)
	older := `INSERT INTO "` + schema + `".metrics_slots AS m (minute, queue, slot, completed, failed, dead) VALUES ($1, 'mail', 1, 2, 1, 0)
  ON CONFLICT (minute, queue, slot) DO UPDATE SET completed = m.completed + excluded.completed, failed = m.failed + excluded.failed`
	_, err := db.ExecContext(ctx, older, minute.Unix())
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO "`+schema+`".metrics (minute, queue, completed, failed, dead) VALUES ($1, 'mail', 5, 0, 1)`, minute.Unix())
	require.NoError(t, err)

	s, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
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
	_, err = db.ExecContext(ctx, older, minute.Unix())
	require.NoError(t, err, "an older build's count still goes in")

	rows, err := s.Metrics(ctx, minute.Add(-time.Hour))
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, "", rows[0].Kind)
	require.Equal(t, [3]int{9, 2, 1}, [3]int{rows[0].Completed, rows[0].Failed, rows[0].Dead}, "both older tables, summed as kind ''")
	require.Zero(t, rows[0].Wait.Count())
	require.Equal(t, "send", rows[1].Kind)
	require.Equal(t, 1, rows[1].Completed)
	require.Equal(t, queue.WaitHistogram{9: 1}, rows[1].Wait, "a wait of 3s")
	require.True(t, rows[1].Minute.Equal(minute))
	st, err := s.Stats(ctx, now)
	require.NoError(t, err)
	last := st.Throughput[len(st.Throughput)-1]
	require.Equal(t, [3]int{10, 2, 1}, [3]int{last.Completed, last.Failed, last.Dead})

	_, err = s.Prune(ctx, queue.PruneParams{MetricsBefore: minute.Add(time.Minute), Limit: 10})
	require.NoError(t, err)
	rows, err = s.Metrics(ctx, minute.Add(-time.Hour))
	require.NoError(t, err)
	require.Empty(t, rows, "Prune empties the three tables")
}

// A schema at version 13 (ordering keys found through jobs_order) migrates
// to key-head rows: every key with a pending, scheduled or running job gets
// its row, blocked jobs stay blocked, and the keys move on as before: a
// running head's completion promotes its key's next job, a key held by a
// dead job stays held, and a new job of a free key becomes its head.
func TestMigrateOrderHeads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, schema, db := oldSchema(t, 13)
	q := `"` + schema + `".`
	now := time.Now()
	// Key a: a completed job kept, a running head, two blocked. Key b: a
	// scheduled head (far ahead). Key c: a dead job that holds it, one
	// blocked. Key d: only a cancelled job. Key e: a pending head, one
	// blocked. Run times 0: due whatever the clock frame.
	for _, j := range []struct {
		id    int64
		key   string
		state int
		runAt int64
	}{
		{1, "a", 3, 0}, {2, "a", 2, 0}, {3, "a", 5, 0}, {4, "a", 5, 0},
		{5, "b", 1, 1 << 60}, {7, "c", 5, 0}, {8, "d", 4, 0},
		{9, "e", 0, 0}, {10, "e", 5, 0},
	} {
		_, err := db.ExecContext(ctx, `INSERT INTO `+q+`jobs (id, queue, kind, state, run_at, max_attempts, created_at, order_key, payload, lease_token, lease_until)
  VALUES ($1, 'q', 'k', $2::int, $3, 3, 0, $4, '', CASE WHEN $2::int = 2 THEN 77 END, CASE WHEN $2::int = 2 THEN 1::bigint << 60 END)`,
			j.id, j.state, j.runAt, j.key)
		require.NoError(t, err)
	}
	_, err := db.ExecContext(ctx, `INSERT INTO `+q+`dead (id, queue, kind, priority, attempt, max_attempts, timeout_us, created_at, run_at, died_at, reason, order_key, blocks_key, payload)
  VALUES (6, 'q', 'k', 0, 3, 3, 0, 0, 0, 0, 'failed', 'c', true, '')`)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('`+q+`jobs', 'id'), 100)`)
	require.NoError(t, err)

	s, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	heads := func() map[string]int64 {
		t.Helper()
		rows, err := db.QueryContext(ctx, `SELECT h.order_key, h.head_id FROM `+q+`order_heads h JOIN `+q+`jobs j ON j.id = h.head_id
  WHERE j.state IN (0, 1, 2)`)
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

	errs, err := s.Settle(ctx, nil, []queue.Settlement{{JobID: 2, Token: 77, Queue: "q", Kind: "k", OrderKey: "a",
		Outcome: queue.OutcomeComplete, Now: now}})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	require.Equal(t, queue.StatePending, state(3), "a's next job moved on")
	require.Equal(t, queue.StateBlocked, state(4))
	require.Equal(t, queue.StateBlocked, state(7), "c stays held by its dead job")

	res, err := s.Enqueue(ctx, nil, now, []queue.NewJob{
		{Queue: "q", Kind: "k", OrderKey: "d", RunAt: now, MaxAttempts: 3, Payload: []byte("{}")},
		{Queue: "q", Kind: "k", OrderKey: "b", RunAt: now, MaxAttempts: 3, Payload: []byte("{}")},
	})
	require.NoError(t, err)
	require.Equal(t, queue.StatePending, state(res[0].ID), "d was free")
	require.Equal(t, queue.StateBlocked, state(res[1].ID), "b has its scheduled head")
	require.Equal(t, map[string]int64{"a": 3, "b": 5, "d": res[0].ID, "e": 10}, heads())
}
