package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// One settle chunk of completions that delete their jobs holds plain jobs,
// tracked ones (a child with its dependency rows, a job with progress) and
// a job whose lease was lost: the plain and tracked jobs go, the tracked
// ones with their rows, and only the lost lease is reported.
func TestSettleChunkDropsTrackedRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "spool.db"), sqlite.Options{})
	require.NoError(t, err)
	defer s.Close()
	count := func(query string) int {
		var n int
		require.NoError(t, s.DB().QueryRow(query).Scan(&n))
		return n
	}
	now := time.Now()
	job := func(deps ...int64) queue.NewJob {
		return queue.NewJob{Queue: queue.DefaultQueue, Kind: "k", Payload: []byte("{}"), MaxAttempts: 5, RunAt: now, DependsOn: deps}
	}
	parents, err := s.Enqueue(ctx, nil, now, []queue.NewJob{job()})
	require.NoError(t, err)
	// The parent is deleted, so its child is no longer waiting for it.
	res, err := s.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "w"})
	require.NoError(t, err)
	require.Len(t, res.Jobs, 1)
	children, err := s.Enqueue(ctx, nil, now, []queue.NewJob{job(parents[0].ID), job(), job(), job()})
	require.NoError(t, err)
	child := children[0].ID
	errs, err := s.Settle(ctx, nil, []queue.Settlement{{JobID: res.Jobs[0].ID, Token: res.Jobs[0].LeaseToken,
		Queue: queue.DefaultQueue, Outcome: queue.OutcomeComplete, Now: now}})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	require.Equal(t, 1, count(`SELECT count(*) FROM spool_job_deps`))

	res, err = s.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 10, Now: now, Until: now.Add(time.Minute), Worker: "w"})
	require.NoError(t, err)
	require.Len(t, res.Jobs, 4)
	// j[0] reports progress, j[2] is the child, j[3] loses its lease.
	j := res.Jobs
	for i := range j {
		if j[i].ID == child {
			j[i], j[2] = j[2], j[i]
		}
	}
	require.Equal(t, child, j[2].ID)
	pe, err := s.RecordProgress(ctx, []queue.ProgressUpdate{{JobID: j[0].ID, Token: j[0].LeaseToken, Progress: queue.Progress{Fraction: 0.5, At: now}}})
	require.NoError(t, err)
	require.NoError(t, pe[0])
	require.Equal(t, 1, count(`SELECT count(*) FROM spool_job_output`))
	require.Equal(t, 2, count(`SELECT count(*) FROM spool_jobs WHERE tracked`))

	var ss []queue.Settlement
	for _, j := range j {
		ss = append(ss, queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: queue.DefaultQueue, Outcome: queue.OutcomeComplete, Now: now})
	}
	// Without the lost lease, then with it.
	for _, lost := range []bool{false, true} {
		batch := ss[:2]
		if lost {
			batch = ss[2:]
			batch[1].Token++ // another lease
		}
		errs, err = s.Settle(ctx, nil, batch)
		require.NoError(t, err)
		require.NoError(t, errs[0])
		if lost {
			require.ErrorIs(t, errs[1], queue.ErrLeaseLost)
		} else {
			require.NoError(t, errs[1])
		}
	}
	require.Equal(t, 0, count(`SELECT count(*) FROM spool_job_deps`))
	require.Equal(t, 0, count(`SELECT count(*) FROM spool_job_output`))
	require.Equal(t, 1, count(`SELECT count(*) FROM spool_jobs`))
}
