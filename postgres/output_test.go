package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
)

// A job's row in spool.job_output lives as long as the job: completed
// without being kept, deleted, pruned or deleted dead, it goes (the
// triggers of migration 0008); moving to the dead table and back, it
// stays. Get cannot tell an orphan row (ids are never reused), so this
// counts the table.
func TestOutputRowsFollowTheirJobs(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	s, err := postgres.Open(ctx, url, postgres.Options{Schema: schema})
	require.NoError(t, err)
	defer s.Close()
	rows := func() int {
		var n int
		require.NoError(t, s.DB().QueryRowContext(ctx, `SELECT count(*) FROM "`+schema+`".job_output`).Scan(&n))
		return n
	}
	outputRowsFollowJobs(t, s, rows)
}

// outputRowsFollowJobs runs the lifecycle of TestOutputRowsFollowTheirJobs
// on store, counting its output rows with rows.
func outputRowsFollowJobs(t *testing.T, store queue.Store, rows func() int) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	q, err := queue.New(store, queue.Options{Now: func() time.Time { return now }})
	require.NoError(t, err)
	for range 4 {
		_, err := q.Enqueue(ctx, queue.NewJob{Kind: "k"})
		require.NoError(t, err)
	}
	res, err := store.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 4, Now: now, Until: now.Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, res.Jobs, 4)
	var ups []queue.ProgressUpdate
	var ss []queue.Settlement
	for _, j := range res.Jobs {
		ups = append(ups, queue.ProgressUpdate{JobID: j.ID, Token: j.LeaseToken, Progress: queue.Progress{Fraction: 0.5, At: now}})
		ss = append(ss, queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Now: now, Output: []byte(`1`)})
	}
	errs, err := store.(queue.ProgressStore).RecordProgress(ctx, ups)
	require.NoError(t, err)
	for _, e := range errs {
		require.NoError(t, e)
	}
	require.Equal(t, 4, rows())

	done, kept, dead, retried := ss[0], ss[1], ss[2], ss[3]
	done.Outcome = queue.OutcomeComplete
	kept.Outcome, kept.Keep = queue.OutcomeComplete, true
	dead.Outcome, dead.Reason = queue.OutcomeDead, "test"
	retried.Outcome, retried.RunAt = queue.OutcomeRetry, now.Add(time.Hour)
	errs, err = store.Settle(ctx, nil, []queue.Settlement{done, kept, dead, retried})
	require.NoError(t, err)
	for _, e := range errs {
		require.NoError(t, e)
	}
	require.Equal(t, 3, rows(), "the completion not kept took its row; the dead job kept its")

	require.NoError(t, store.Delete(ctx, nil, retried.JobID, now))
	require.Equal(t, 2, rows(), "deleted")
	n, err := store.Prune(ctx, queue.PruneParams{CompletedBefore: now.Add(time.Second), CancelledBefore: now, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, 1, rows(), "pruned")
	rd, err := store.RetryDead(ctx, nil, queue.DeadFilter{IDs: []int64{dead.JobID}}, now)
	require.NoError(t, err)
	require.Equal(t, 1, rd.Retried)
	require.Equal(t, 1, rows(), "retried from the dead table: kept")
	require.NoError(t, store.Delete(ctx, nil, dead.JobID, now))
	require.Equal(t, 0, rows())
}
