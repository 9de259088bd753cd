package postgres

// The hot statements' plans on a table with statistics, as a server with
// autovacuum has it: each reaches its rows through an index, never by
// reading the whole jobs table. (An UPDATE … WHERE id IN (SELECT … LIMIT n
// FOR UPDATE SKIP LOCKED) was planned as a hash join over a sequential
// scan of every job once the table was analysed; id = ANY (ARRAY(…)) is
// not.)

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/internal/sqlstore"
)

func TestHotStatementsUseIndexesOnAnalysedTable(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s, err := Open(ctx, url, Options{Schema: pgtest.Schema(t, url)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	// 60k pending, 30k running under one token, 10k scheduled in the future;
	_, err = s.db.ExecContext(ctx, s.sql(`INSERT INTO spool.jobs (queue, kind, state, run_at, max_attempts, created_at, lease_until, lease_token, payload)
  SELECT 'default', 'k', CASE WHEN g <= 60000 THEN 0 WHEN g <= 90000 THEN 2 ELSE 1 END,
    CASE WHEN g > 90000 THEN 9000000000 + g ELSE g END, 3, g,
    CASE WHEN g BETWEEN 60001 AND 90000 THEN 5000000000 END, CASE WHEN g BETWEEN 60001 AND 90000 THEN 7 END, ''::bytea
  FROM generate_series(1, 100000) g`))
	require.NoError(t, err)
	// 30k completed jobs kept, finished long ago.
	_, err = s.db.ExecContext(ctx, s.sql(`INSERT INTO spool.jobs (queue, kind, state, run_at, max_attempts, created_at, finished_at, payload)
  SELECT 'default', 'k', 3, g, 3, g, g, ''::bytea FROM generate_series(100001, 130000) g`))
	require.NoError(t, err)
	// 20k jobs over 1000 ordering keys: each key's oldest pending, the
	// others blocked.
	_, err = s.db.ExecContext(ctx, s.sql(`INSERT INTO spool.jobs (queue, kind, state, run_at, max_attempts, created_at, order_key, payload)
  SELECT 'default', 'k', CASE WHEN g <= 131000 THEN 0 ELSE 5 END, g, 3, g, 'order:' || (g % 1000), ''::bytea
  FROM generate_series(130001, 150000) g`))
	require.NoError(t, err)
	// 20k dead jobs, half with unique keys, and 20k unique periods.
	_, err = s.db.ExecContext(ctx, s.sql(`INSERT INTO spool.dead (id, queue, kind, priority, attempt, max_attempts, timeout_us, created_at, run_at, died_at, reason, unique_key, payload)
  SELECT g, 'default', 'k', 0, 3, 3, 0, g, g, g, 'test', CASE WHEN g % 2 = 0 THEN 'u' || g END, ''::bytea FROM generate_series(200001, 220000) g`))
	require.NoError(t, err)
	_, err = s.db.ExecContext(ctx, s.sql(`INSERT INTO spool.unique_periods (key, job_id, until) SELECT 'p' || g, g, g FROM generate_series(1, 20000) g`))
	require.NoError(t, err)
	_, err = s.db.ExecContext(ctx, s.sql(`ANALYZE spool.dead`))
	require.NoError(t, err)
	_, err = s.db.ExecContext(ctx, s.sql(`ANALYZE spool.unique_periods`))
	require.NoError(t, err)
	_, err = s.db.ExecContext(ctx, s.sql(`ANALYZE spool.jobs`))
	require.NoError(t, err)

	const now, until = int64(1_000_000), int64(2_000_000)
	ids := []int64{60001, 60002, 60003, 70000, 89999}
	tokens := []int64{7, 7, 7, 7, 7}
	for _, c := range []struct {
		name  string
		query string
		args  []any
	}{
		{"lease, one statement", sqlLeaseFast, []any{now, until, int64(9), "w", "default", 100}},
		{"lease, long way", sqlLease, []any{now, until, int64(9), "w", "default", 100}},
		{"expiry probe", sqlAnyExpiry, []any{"default", now}},
		{"probe of a limited queue", sqlProbeLimited, []any{"default", now}},
		{"promote", sqlPromote, []any{"default", now}},
		{"next run time", sqlNextRunAt, []any{"default"}},
		{"ready jobs with their partition keys, counts and buckets", sqlKeyWalk, []any{"default", 64, 0, now}},
		{"lease of picked jobs", sqlLeaseIDs, []any{now, until, int64(9), "w", ids}},
		{"complete and delete", sqlCompleteDeleteMany, []any{int64(7), ids}},
		{"settle, one statement", sqlSettleFast, []any{ids, tokens, int64(60), int16(3), []string{"k", "k", "k", "k", "k"}, []int32{0, 1, 2, 9, 15}}},
		{"lock jobs", sqlLockJobs, []any{ids}},
		{"is a key busy", sqlKeyBusy, []any{"default", "order:7"}},
		{"promote keys' next jobs", sqlPromoteKeys, []any{"default", []string{"order:7", "order:8", "order:9"}, now}},
		{"extend", sqlExtend, []any{until, ids, tokens}},
		{"expired leases", sqlExpired, []any{now, 100}},
		{"prune completed", pruneFinishedSQL(completedSQL, 0), []any{int64(200_000), int64(200_000), 1000}},
		{"prune completed, rules", pruneFinishedSQL(completedSQL, 2), []any{int64(200_000), int64(200_000), 1000, "audit", "", sqlstore.KeepCut, "", "invoice", int64(100_000)}},
		{"prune cancelled", pruneFinishedSQL(cancelledSQL, 0), []any{now, now, 1000}},
		{"prune dead", pruneDeadSQL(1), []any{now, now, 1000, "audit", "", now}},
		{"prune unique periods", sqlPruneUnique, []any{now, 1000}},
		{"unique holder, finished", sqlUniqueFinished, []any{"k", true, true}},
		{"unique holder, dead", sqlUniqueDead, []any{"k"}},
		{"unique holder, period", sqlUniquePeriod, []any{"k", now}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, err := s.db.QueryContext(ctx, "EXPLAIN "+s.sql(c.query), c.args...)
			require.NoError(t, err)
			lines, err := collect(rows, func(r scanner) (string, error) {
				var line string
				err := r.Scan(&line)
				return line, err
			})
			require.NoError(t, err)
			plan := strings.Join(lines, "\n")
			require.NotContains(t, plan, "Seq Scan", "plan:\n%s", plan)
		})
	}
}

// A settle looks its jobs up in jobs_pkey only, on a never-analysed table
// as well (the bench's, with autovacuum off): a plan that also reads a
// running-jobs index reads every entry it holds, dead ones of each job
// leased since the last vacuum included, so each settle of a long drain
// would cost more than the one before.
func TestSettleStatementsSkipRunningIndexes(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s, err := Open(ctx, url, Options{Schema: pgtest.Schema(t, url)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	_, err = s.db.ExecContext(ctx, s.sql(`INSERT INTO spool.jobs (queue, kind, state, run_at, max_attempts, created_at, lease_until, lease_token, payload)
  SELECT 'default', 'k', 2, g, 3, g, 5000000000, 7, ''::bytea FROM generate_series(1, 20000) g`))
	require.NoError(t, err)
	ids := []int64{1, 2, 3, 10000, 19999}
	tokens := []int64{7, 7, 7, 7, 7}
	for _, c := range []struct {
		name  string
		query string
		args  []any
	}{
		{"settle, one statement", sqlSettleFast, []any{ids, tokens, int64(60), int16(3), []string{"k", "k", "k", "k", "k"}, []int32{0, 1, 2, 9, 15}}},
		{"complete and delete", sqlCompleteDeleteMany, []any{int64(7), ids}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, err := s.db.QueryContext(ctx, "EXPLAIN "+s.sql(c.query), c.args...)
			require.NoError(t, err)
			lines, err := collect(rows, func(r scanner) (string, error) {
				var line string
				err := r.Scan(&line)
				return line, err
			})
			require.NoError(t, err)
			plan := strings.Join(lines, "\n")
			require.NotContains(t, plan, "jobs_running", "plan:\n%s", plan)
		})
	}
}
