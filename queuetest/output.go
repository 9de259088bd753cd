package queuetest

import (
	"math"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// outputArea: jobs' output and progress (Settlement.Output and .Progress,
// queue.ProgressStore), returned by Get and kept as long as the job.
var outputArea = area{"Output", []testCase{
	{"KeptCompletionKeepsOutputAndProgress", testOutputKept},
	{"GoesWithTheJob", testOutputGoesWithJob},
	{"DeadJobKeepsOutput", testOutputDead},
	{"ProgressFencedByToken", testProgressFenced},
	{"ProgressRefusesBadValues", testProgressInvalid},
	{"SettleInCallersTxRollsBack", testOutputTx},
	{"RowsFollowTheirJobs", testOutputRowsFollowJobs},
}}

// progressStore returns the store as a ProgressStore, skipping the case
// when the backend records progress only with settlements.
func (e *env) progressStore() queue.ProgressStore {
	ps, ok := e.store.(queue.ProgressStore)
	if !ok {
		e.t.Skip("backend does not implement queue.ProgressStore: progress while running untested")
	}
	return ps
}

// requireProgress checks that job's progress is want, its time to the
// microsecond.
func (e *env) requireProgress(want queue.Progress, job *queue.Job) {
	e.t.Helper()
	require.NotNil(e.t, job.Progress, "job %d has no progress", job.ID)
	require.Equal(e.t, want.Fraction, job.Progress.Fraction)
	require.Equal(e.t, want.Message, job.Progress.Message)
	require.True(e.t, job.Progress.At.Equal(want.At.Truncate(time.Microsecond)), "progress at %v, want %v", job.Progress.At, want.At)
}

// A completion kept for inspection stores its output and final progress;
// Get returns them with the job, until Prune removes it. A job with
// neither has nil ones.
func testOutputKept(e *env) {
	plain := e.enqueue(queue.NewJob{Kind: "k", Queue: "plain"})
	require.Nil(e.t, e.get(plain).Output)
	require.Nil(e.t, e.get(plain).Progress)

	id := e.enqueue(queue.NewJob{Kind: "import"})
	j := e.leaseOne(queue.DefaultQueue)
	s := settlement(j, queue.OutcomeComplete)
	s.Keep = true
	s.Output = []byte(`{"rows":1042,"skipped":["a<b>"]}`)
	p := queue.Progress{Fraction: 1, Message: "imported 1042 rows", At: e.clock.Now().Add(-time.Second)}
	s.Progress = &p
	require.NoError(e.t, e.settle(s)[0])

	got := e.get(id)
	require.Equal(e.t, queue.StateCompleted, got.State)
	require.JSONEq(e.t, string(s.Output), string(got.Output))
	e.requireProgress(p, got)

	e.clock.Advance(time.Hour)
	n, err := e.store.Prune(e.ctx, queue.PruneParams{CompletedBefore: e.clock.Now(), CancelledBefore: e.clock.Now(), Limit: 100})
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n)
	require.Equal(e.t, queue.State(""), e.state(id))
}

// A completion that deletes its job takes the output with it; a job
// deleted by an operator loses its output too, and a retry's settlement
// stores the output of the failed attempt on the waiting job.
func testOutputGoesWithJob(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "k"})
	j := e.leaseOne(queue.DefaultQueue)
	_, err := e.progressStore().RecordProgress(e.ctx, []queue.ProgressUpdate{{JobID: j.ID, Token: j.LeaseToken,
		Progress: queue.Progress{Fraction: 0.5, Message: "half", At: e.clock.Now()}}})
	require.NoError(e.t, err)
	s := settlement(j, queue.OutcomeComplete)
	s.Output = []byte(`"done"`)
	require.NoError(e.t, e.settle(s)[0])
	require.Equal(e.t, queue.State(""), e.state(id))

	retried := e.enqueue(queue.NewJob{Kind: "k", Queue: "r"})
	j = e.leaseOne("r")
	s = settlement(j, queue.OutcomeRetry)
	s.RunAt = e.clock.Now().Add(time.Minute)
	s.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "boom"}
	s.Output = []byte(`{"partial":3}`)
	require.NoError(e.t, e.settle(s)[0])
	got := e.get(retried)
	require.Equal(e.t, queue.StateScheduled, got.State)
	require.JSONEq(e.t, `{"partial":3}`, string(got.Output))
	require.Nil(e.t, got.Progress)
	e.delete(retried)
	require.Equal(e.t, queue.State(""), e.state(retried))
}

// A job that dies keeps the output and progress recorded before; they
// stay with it when an operator retries it, and go when one deletes it.
func testOutputDead(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "charge", Queue: "d"})
	j := e.leaseOne("d")
	s := settlement(j, queue.OutcomeDead)
	s.Reason = "card declined"
	s.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "declined"}
	s.Output = []byte(`{"charged":0}`)
	p := queue.Progress{Fraction: 0.25, Message: "charging", At: e.clock.Now()}
	s.Progress = &p
	require.NoError(e.t, e.settle(s)[0])

	got := e.get(id)
	require.Equal(e.t, queue.StateDead, got.State)
	require.JSONEq(e.t, `{"charged":0}`, string(got.Output))
	e.requireProgress(p, got)

	e.retry(id)
	got = e.get(id)
	require.Equal(e.t, queue.StatePending, got.State)
	require.JSONEq(e.t, `{"charged":0}`, string(got.Output), "a retried job keeps its output until its next attempt records one")
	e.kill(e.leaseOne("d"))
	require.JSONEq(e.t, `{"charged":0}`, string(e.get(id).Output))
	n, err := e.store.DeleteDead(e.ctx, nil, queue.DeadFilter{IDs: []int64{id}}, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n)
	require.Equal(e.t, queue.State(""), e.state(id))
}

// Progress is recorded only under the job's current lease: a wrong token,
// and the token of a lease that ended, change nothing and get
// ErrLeaseLost. Get shows a running job's latest progress.
func testProgressFenced(e *env) {
	ps := e.progressStore()
	id := e.enqueue(queue.NewJob{Kind: "k"})
	j := e.leaseOne(queue.DefaultQueue)
	first := queue.Progress{Fraction: 0.1, Message: "started", At: e.clock.Now()}
	e.clock.Advance(time.Second)
	second := queue.Progress{Fraction: 0.6, Message: "more", At: e.clock.Now()}
	errs, err := ps.RecordProgress(e.ctx, []queue.ProgressUpdate{
		{JobID: j.ID, Token: j.LeaseToken, Progress: first},
		{JobID: j.ID, Token: j.LeaseToken + 1, Progress: queue.Progress{Fraction: 0.9, Message: "stale", At: e.clock.Now()}},
		{JobID: 424242, Token: j.LeaseToken, Progress: first},
	})
	require.NoError(e.t, err)
	require.Len(e.t, errs, 3)
	require.NoError(e.t, errs[0])
	require.ErrorIs(e.t, errs[1], queue.ErrLeaseLost)
	require.ErrorIs(e.t, errs[2], queue.ErrLeaseLost)
	got := e.get(id)
	require.Equal(e.t, queue.StateRunning, got.State)
	e.requireProgress(first, got)
	require.Nil(e.t, got.Output)

	errs, err = ps.RecordProgress(e.ctx, []queue.ProgressUpdate{{JobID: j.ID, Token: j.LeaseToken, Progress: second}})
	require.NoError(e.t, err)
	require.NoError(e.t, errs[0])
	e.requireProgress(second, e.get(id))

	// The lease ends (released by a stopping worker); its token no longer
	// writes, and the next lease's does.
	r := settlement(j, queue.OutcomeRelease)
	r.RunAt = e.clock.Now()
	require.NoError(e.t, e.settle(r)[0])
	errs, err = ps.RecordProgress(e.ctx, []queue.ProgressUpdate{{JobID: j.ID, Token: j.LeaseToken, Progress: first}})
	require.NoError(e.t, err)
	require.ErrorIs(e.t, errs[0], queue.ErrLeaseLost)
	e.requireProgress(second, e.get(id))

	again := e.leaseOne(queue.DefaultQueue)
	e.requireProgress(second, e.get(id))
	errs, err = ps.RecordProgress(e.ctx, []queue.ProgressUpdate{{JobID: id, Token: again.LeaseToken, Progress: first}})
	require.NoError(e.t, err)
	require.NoError(e.t, errs[0])
	e.requireProgress(first, e.get(id))
}

// A fraction outside 0..1 or NaN, and an overlong message, are refused
// whole, and nothing is written.
func testProgressInvalid(e *env) {
	ps := e.progressStore()
	id := e.enqueue(queue.NewJob{Kind: "k"})
	j := e.leaseOne(queue.DefaultQueue)
	for _, p := range []queue.Progress{
		{Fraction: math.NaN()}, {Fraction: -0.1}, {Fraction: 1.5}, {Fraction: math.Inf(1)},
		{Fraction: 0.5, Message: string(make([]byte, queue.MaxProgressMessage+1))},
	} {
		p.At = e.clock.Now()
		_, err := ps.RecordProgress(e.ctx, []queue.ProgressUpdate{
			{JobID: j.ID, Token: j.LeaseToken, Progress: queue.Progress{Fraction: 0.5, At: e.clock.Now()}},
			{JobID: j.ID, Token: j.LeaseToken, Progress: p},
		})
		require.ErrorIs(e.t, err, queue.ErrInvalidArgument, "%+v", p)
	}
	require.Nil(e.t, e.get(id).Progress)
}

// A settlement in the caller's transaction (worker.Pool.CompleteTx)
// stores its output with it, and a rollback takes both back.
func testOutputTx(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "k"})
	j := e.leaseOne(queue.DefaultQueue)
	s := settlement(j, queue.OutcomeComplete)
	s.Keep, s.Now, s.Output = true, e.clock.Now(), []byte(`[1,2,3]`)

	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	errs, err := e.store.Settle(e.ctx, tx, []queue.Settlement{s})
	require.NoError(e.t, err)
	require.NoError(e.t, errs[0])
	require.NoError(e.t, tx.Rollback())
	got := e.get(id)
	require.Equal(e.t, queue.StateRunning, got.State)
	require.Nil(e.t, got.Output)

	tx, err = e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	errs, err = e.store.Settle(e.ctx, tx, []queue.Settlement{s})
	require.NoError(e.t, err)
	require.NoError(e.t, errs[0])
	require.NoError(e.t, tx.Commit())
	got = e.get(id)
	require.Equal(e.t, queue.StateCompleted, got.State)
	require.JSONEq(e.t, `[1,2,3]`, string(got.Output))
}

// A job's output row lives as long as the job: completed without being
// kept, deleted, pruned or deleted dead, it goes; moving to the dead table
// and back, it stays. The backend counts its rows (Backend.OutputRows).
func testOutputRowsFollowJobs(e *env) {
	if e.outputRows == nil {
		e.t.Skip("the backend does not count its output rows")
	}
	t, ctx, store, q := e.t, e.ctx, e.store, e.q
	now := e.clock.Now()
	rows := func() int { return e.outputRows(t) }
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
