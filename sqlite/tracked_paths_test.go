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

// Delete, Prune, the dead table and RetryDead each leave no output or
// dependency rows behind once a job is gone from both tables.
func TestTrackedRowsFollowEveryPath(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "spool.db"), sqlite.Options{})
	require.NoError(t, err)
	defer s.Close()
	count := func(q string) int {
		var n int
		require.NoError(t, s.DB().QueryRow(q).Scan(&n))
		return n
	}
	now := time.Now()
	job := func(max int, deps ...int64) queue.NewJob {
		return queue.NewJob{Queue: queue.DefaultQueue, Kind: "k", Payload: []byte("{}"), MaxAttempts: max, RunAt: now, DependsOn: deps}
	}
	lease := func(n int) []*queue.Job {
		res, err := s.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: n, Now: now, Until: now.Add(time.Minute), Worker: "w"})
		require.NoError(t, err)
		return res.Jobs
	}
	settle := func(j *queue.Job, st queue.Settlement) {
		st.JobID, st.Token, st.Queue, st.Now = j.ID, j.LeaseToken, queue.DefaultQueue, now
		errs, err := s.Settle(ctx, nil, []queue.Settlement{st})
		require.NoError(t, err)
		require.NoError(t, errs[0])
	}
	// 1. Delete a blocked child: its dependency rows go.
	p, err := s.Enqueue(ctx, nil, now, []queue.NewJob{job(1)})
	require.NoError(t, err)
	c, err := s.Enqueue(ctx, nil, now, []queue.NewJob{job(1, p[0].ID)})
	require.NoError(t, err)
	require.Equal(t, 1, count(`SELECT count(*) FROM spool_job_deps`))
	require.NoError(t, s.Delete(ctx, nil, c[0].ID, now))
	require.Equal(t, 0, count(`SELECT count(*) FROM spool_job_deps`))
	require.NoError(t, s.Delete(ctx, nil, p[0].ID, now))

	// 2. Kept completion with output, then Prune: the output goes.
	_, err = s.Enqueue(ctx, nil, now, []queue.NewJob{job(1)})
	require.NoError(t, err)
	j := lease(1)[0]
	settle(j, queue.Settlement{Outcome: queue.OutcomeComplete, Output: []byte(`"x"`), Keep: true})
	require.Equal(t, 1, count(`SELECT count(*) FROM spool_job_output`))
	n, err := s.Prune(ctx, queue.PruneParams{CompletedBefore: now.Add(time.Hour), Limit: 100})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, 0, count(`SELECT count(*) FROM spool_job_output`))

	// 3. Progress, dead (rows kept), RetryDead (tracked again), complete: rows go.
	_, err = s.Enqueue(ctx, nil, now, []queue.NewJob{job(1)})
	require.NoError(t, err)
	j = lease(1)[0]
	pe, err := s.RecordProgress(ctx, []queue.ProgressUpdate{{JobID: j.ID, Token: j.LeaseToken, Progress: queue.Progress{Fraction: 0.5, At: now}}})
	require.NoError(t, err)
	require.NoError(t, pe[0])
	settle(j, queue.Settlement{Outcome: queue.OutcomeDead, Reason: "r", Error: &queue.AttemptError{Attempt: 1, Message: "e", At: now}})
	require.Equal(t, 1, count(`SELECT count(*) FROM spool_dead`))
	require.Equal(t, 1, count(`SELECT count(*) FROM spool_job_output`))
	_, err = s.RetryDead(ctx, nil, queue.DeadFilter{IDs: []int64{j.ID}}, now)
	require.NoError(t, err)
	require.Equal(t, 1, count(`SELECT count(*) FROM spool_jobs WHERE tracked`))
	require.Equal(t, 1, count(`SELECT count(*) FROM spool_job_output`))
	j = lease(1)[0]
	settle(j, queue.Settlement{Outcome: queue.OutcomeComplete})
	require.Equal(t, 0, count(`SELECT count(*) FROM spool_job_output`))

	// 4. Dead then DeleteDead: the spool_dead trigger removes the row.
	_, err = s.Enqueue(ctx, nil, now, []queue.NewJob{job(1)})
	require.NoError(t, err)
	j = lease(1)[0]
	settle(j, queue.Settlement{Outcome: queue.OutcomeDead, Reason: "r", Output: []byte(`"y"`), Error: &queue.AttemptError{Attempt: 1, Message: "e", At: now}})
	_, err = s.DeleteDead(ctx, nil, queue.DeadFilter{IDs: []int64{j.ID}}, now)
	require.NoError(t, err)
	require.Equal(t, 0, count(`SELECT count(*) FROM spool_job_output`))
	require.Equal(t, 0, count(`SELECT count(*) FROM spool_jobs`)+count(`SELECT count(*) FROM spool_dead`))
}
