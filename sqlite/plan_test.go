package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// queryPlan returns the detail lines of EXPLAIN QUERY PLAN for query.
func queryPlan(t *testing.T, s *Store, query string, args ...any) []string {
	t.Helper()
	rows, err := s.readDB.Query("EXPLAIN QUERY PLAN "+query, args...)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &notUsed, &detail))
		out = append(out, detail)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, out)
	t.Log(strings.Join(out, " | "))
	return out
}

// requirePlan checks that a plan searches spool_jobs through index, never
// scans the whole table, and sorts nothing in a temporary b-tree.
func requirePlan(t *testing.T, plan []string, index string) {
	t.Helper()
	all := strings.Join(plan, "\n")
	require.Contains(t, all, "INDEX "+index, "plan:\n%s", all)
	for _, line := range plan {
		require.NotEqual(t, "SCAN spool_jobs", strings.TrimSpace(line), "full table scan; plan:\n%s", all)
		require.NotContains(t, line, "USE TEMP B-TREE", "plan:\n%s", all)
		if strings.HasPrefix(line, "SCAN spool_jobs") {
			require.Contains(t, line, index, "scan outside the index; plan:\n%s", all)
		}
	}
}

// The hot queries are served by their partial indexes, on a fresh database
// without ANALYZE statistics, empty or filled.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"), Options{})
	require.NoError(t, err)
	defer s.Close()
	q, err := queue.New(s, queue.Options{})
	require.NoError(t, err)

	check := func(t *testing.T) {
		var stats int
		require.NoError(t, s.readDB.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name LIKE 'sqlite_stat%'`).Scan(&stats))
		require.Zero(t, stats, "the plan must not depend on ANALYZE")
		now := micros(time.Now())

		t.Run("lease selection", func(t *testing.T) {
			plan := queryPlan(t, s, leaseSelectSQL, queue.DefaultQueue, 100)
			requirePlan(t, plan, "spool_jobs_ready")
		})
		t.Run("lease update", func(t *testing.T) {
			plan := queryPlan(t, s, sqlLease, now, now, 1, "w", queue.DefaultQueue, 100)
			requirePlan(t, plan, "spool_jobs_ready")
		})
		t.Run("lease read-back", func(t *testing.T) {
			plan := queryPlan(t, s, sqlLeased, now, 1)
			requirePlan(t, plan, "spool_jobs_running")
		})
		t.Run("running jobs under MaxRunning", func(t *testing.T) {
			plan := queryPlan(t, s, sqlRunningHeld, queue.DefaultQueue, now)
			requirePlan(t, plan, "spool_jobs_running")
		})
		t.Run("running jobs per partition key", func(t *testing.T) {
			plan := queryPlan(t, s, sqlRunningByKey, queue.DefaultQueue, now)
			requirePlan(t, plan, "spool_jobs_running_key")
		})
		t.Run("ready jobs with their partition keys", func(t *testing.T) {
			plan := queryPlan(t, s, sqlKeyWalk, queue.DefaultQueue, queue.MaxKeyWalk)
			requirePlan(t, plan, "spool_jobs_ready")
		})
		t.Run("lease of picked jobs", func(t *testing.T) {
			plan := queryPlan(t, s, sqlLeaseIDs, now, now, 1, "w", "[1,2,3]")
			require.Contains(t, plan, "SEARCH spool_jobs USING INTEGER PRIMARY KEY (rowid=?)", "one lookup per id")
		})
		t.Run("lease preamble", func(t *testing.T) {
			// The settings row by its key, the expiry probe and the
			// earliest scheduled job each through their index.
			plan := queryPlan(t, s, sqlQueueLease, queue.DefaultQueue, now)
			all := strings.Join(plan, "\n")
			require.Contains(t, all, "INDEX spool_jobs_expiry", "plan:\n%s", all)
			require.Contains(t, all, "INDEX spool_jobs_scheduled", "plan:\n%s", all)
			require.Contains(t, all, "SEARCH q USING PRIMARY KEY (name=?)", "plan:\n%s", all)
			for _, line := range plan {
				require.NotContains(t, line, "SCAN spool_jobs", "plan:\n%s", all)
				require.NotContains(t, line, "USE TEMP B-TREE", "plan:\n%s", all)
			}
		})
		t.Run("promotion", func(t *testing.T) {
			plan := queryPlan(t, s, sqlPromote, queue.DefaultQueue, now)
			requirePlan(t, plan, "spool_jobs_scheduled")
		})
		t.Run("next jobs of keys", func(t *testing.T) {
			plan := queryPlan(t, s, sqlPromoteKeys, queue.DefaultQueue, `["k1","k2"]`, now, `["k3"]`)
			requirePlan(t, plan, "spool_jobs_blocked")
			require.Equal(t, 2, strings.Count(strings.Join(plan, "\n"), "INDEX spool_jobs_blocked"),
				"both the checked and the freed keys' next jobs through the index; plan: %q", plan)
			require.Contains(t, strings.Join(plan, "\n"), "spool_order_heads USING PRIMARY KEY", "plan: %q", plan)
			require.Contains(t, plan[0], "SEARCH spool_jobs USING INTEGER PRIMARY KEY (rowid=?)", "plan: %q", plan)
		})
		t.Run("is a key busy", func(t *testing.T) {
			plan := queryPlan(t, s, sqlKeyBusy, queue.DefaultQueue, "k1")
			requirePlan(t, plan, "spool_jobs_blocked")
			require.Contains(t, strings.Join(plan, "\n"), "spool_order_heads USING PRIMARY KEY", "plan: %q", plan)
		})
		t.Run("next run time", func(t *testing.T) {
			plan := queryPlan(t, s, sqlNextRunAt, queue.DefaultQueue)
			requirePlan(t, plan, "spool_jobs_scheduled")
		})
		t.Run("batched completion", func(t *testing.T) {
			args := []any{int64(1)}
			for i := range settleChunk {
				args = append(args, int64(i+1))
			}
			plan := queryPlan(t, s, sqlCompleteDeleteChunk, args...)
			require.Len(t, plan, 1, "plan: %q", plan)
			require.Contains(t, plan[0], "SEARCH spool_jobs USING INTEGER PRIMARY KEY (rowid=?)")
		})
		t.Run("expired leases", func(t *testing.T) {
			plan := queryPlan(t, s, sqlExpired, now, 100)
			requirePlan(t, plan, "spool_jobs_running")
		})
		t.Run("unique key held by a finished job", func(t *testing.T) {
			plan := queryPlan(t, s, sqlUniqueFinished, "k", true, false)
			requirePlan(t, plan, "spool_jobs_unique_finished")
		})
		t.Run("unique key held by a dead job", func(t *testing.T) {
			plan := queryPlan(t, s, sqlUniqueDead, "k")
			require.Contains(t, strings.Join(plan, "\n"), "INDEX spool_dead_unique")
		})
		t.Run("dead retention", func(t *testing.T) {
			plan := queryPlan(t, s, pruneDeadSQL(1), now, now, 0, 100, "mail", "", now)
			require.Contains(t, strings.Join(plan, "\n"), "INDEX spool_dead_died")
		})
		t.Run("finished retention", func(t *testing.T) {
			plan := queryPlan(t, s, pruneFinishedSQL(1), now, now, stCompleted, 100, "mail", "", now)
			require.Contains(t, strings.Join(plan, "\n"), "INDEX spool_jobs_finished")
		})
		t.Run("ended unique periods", func(t *testing.T) {
			plan := queryPlan(t, s, sqlPruneUnique, now, 100)
			require.Contains(t, strings.Join(plan, "\n"), "INDEX spool_unique_until")
		})
	}

	t.Run("empty", check)

	// Fill: ready jobs of mixed priority in several queues, scheduled jobs,
	// running jobs, completed jobs.
	for _, name := range []string{queue.DefaultQueue, "mail", "reports"} {
		var jobs []queue.NewJob
		for i := range 300 {
			j := queue.NewJob{Queue: name, Kind: "fill", Priority: i % 4, Args: i}
			if i%3 == 0 {
				j.Delay = time.Duration(i) * time.Minute
			}
			if i%5 == 0 {
				j.OrderKey = fmt.Sprint("k", i%7)
			}
			jobs = append(jobs, j)
		}
		_, err := q.EnqueueMany(ctx, jobs)
		require.NoError(t, err)
	}
	now := time.Now()
	res, err := s.Lease(ctx, queue.LeaseParams{Queue: "mail", Limit: 50, Now: now, Until: now.Add(time.Minute), Worker: "w"})
	require.NoError(t, err)
	require.Len(t, res.Jobs, 50)
	var done []queue.Settlement
	for _, j := range res.Jobs[:20] {
		done = append(done, queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue,
			Outcome: queue.OutcomeComplete, Now: now, Keep: true})
	}
	_, err = s.Settle(ctx, nil, done)
	require.NoError(t, err)

	t.Run("filled", check)
}

// The lease takes jobs in the order the index yields them: highest priority
// first, then oldest run time, then oldest id.
func TestLeaseOrderFollowsTheIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "order.db"), Options{})
	require.NoError(t, err)
	defer s.Close()
	q, err := queue.New(s, queue.Options{})
	require.NoError(t, err)
	base := time.Now().Add(-time.Hour)
	var jobs []queue.NewJob
	for i := range 12 {
		jobs = append(jobs, queue.NewJob{Kind: "k", Priority: i % 3, RunAt: base.Add(time.Duration(12-i) * time.Second), Payload: []byte(fmt.Sprint(i))})
	}
	_, err = q.EnqueueMany(ctx, jobs)
	require.NoError(t, err)

	var want []string
	for p := 2; p >= 0; p-- {
		for i := 11; i >= 0; i-- { // later i: earlier run time
			if i%3 == p {
				want = append(want, fmt.Sprint(i))
			}
		}
	}
	var got []string
	now := time.Now()
	for range 12 {
		res, err := s.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "w"})
		require.NoError(t, err)
		require.Len(t, res.Jobs, 1)
		got = append(got, string(res.Jobs[0].Payload))
	}
	require.Equal(t, want, got)
}
