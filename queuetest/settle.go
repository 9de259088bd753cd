package queuetest

import (
	"errors"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// settleArea: outcomes of attempts.
var settleArea = area{"Settle", []testCase{
	{"CompleteDeletesOrKeeps", testSettleComplete},
	{"RetryReschedulesAndKeepsErrors", testSettleRetry},
	{"SnoozeAndReleaseRefundTheAttempt", testSettleSnoozeAndRelease},
	{"CancelOutcomeEndsCancelled", testSettleCancel},
	{"IfExpiredSettlesOnlyLapsedLeases", testSettleIfExpired},
	{"BatchGivesEachItsVerdict", testSettleBatchMixed},
	{"SameJobTwiceFirstWins", testSettleSameJobTwice},
	{"ErrorHistoryBounded", testErrorHistoryBounded},
}}

func testSettleComplete(e *env) {
	a := e.enqueue(queue.NewJob{Kind: "k"})
	b := e.enqueue(queue.NewJob{Kind: "k"})
	jobs := e.lease(queue.DefaultQueue, 2)
	byID := map[int64]*queue.Job{jobs[0].ID: jobs[0], jobs[1].ID: jobs[1]}
	keep := settlement(byID[b], queue.OutcomeComplete)
	keep.Keep = true
	errs := e.settle(settlement(byID[a], queue.OutcomeComplete), keep)
	require.NoError(e.t, errors.Join(errs...))
	_, err := e.store.Get(e.ctx, a)
	require.ErrorIs(e.t, err, queue.ErrNotFound, "completed jobs are deleted by default")
	kept := e.get(b)
	require.Equal(e.t, queue.StateCompleted, kept.State)
	require.True(e.t, kept.FinishedAt.Equal(e.clock.Now()))
	st, err := e.store.Stats(e.ctx, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, 2, st.Throughput[len(st.Throughput)-1].Completed)
}

func testSettleRetry(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "k", MaxAttempts: 3})
	j := e.leaseOne(queue.DefaultQueue)
	s := settlement(j, queue.OutcomeRetry)
	s.RunAt = e.clock.Now().Add(time.Minute)
	s.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "partner said 503"}
	require.NoError(e.t, e.settle(s)[0])
	got := e.get(id)
	require.Equal(e.t, queue.StateScheduled, got.State)
	require.True(e.t, got.RunAt.Equal(t0.Add(time.Minute)))
	require.Equal(e.t, 1, got.Attempt)
	require.Zero(e.t, got.LeaseToken)
	require.Len(e.t, got.Errors, 1)
	require.Equal(e.t, "partner said 503", got.Errors[0].Message)
	require.Equal(e.t, 1, got.Errors[0].Attempt)
	require.True(e.t, got.Errors[0].At.Equal(t0))

	require.Empty(e.t, e.lease(queue.DefaultQueue, 1), "not before its run time")
	e.clock.Advance(time.Minute)
	j = e.leaseOne(queue.DefaultQueue)
	require.Equal(e.t, 2, j.Attempt)
	s = settlement(j, queue.OutcomeRetry)
	s.RunAt = e.clock.Now() // immediately ready again
	s.Error = &queue.AttemptError{Attempt: 2, At: e.clock.Now(), Message: "again", Stack: "goroutine 1 [running]"}
	require.NoError(e.t, e.settle(s)[0])
	got = e.get(id)
	require.Equal(e.t, queue.StatePending, got.State)
	require.Len(e.t, got.Errors, 2, "every attempt's error is kept")
	require.Equal(e.t, "goroutine 1 [running]", got.Errors[1].Stack)
	st, err := e.store.Stats(e.ctx, e.clock.Now())
	require.NoError(e.t, err)
	failed := 0
	for _, m := range st.Throughput {
		failed += m.Failed
	}
	require.Equal(e.t, 2, failed)
}

func testSettleSnoozeAndRelease(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "k"})
	j := e.leaseOne(queue.DefaultQueue)
	s := settlement(j, queue.OutcomeSnooze)
	s.RunAt = e.clock.Now().Add(5 * time.Minute)
	require.NoError(e.t, e.settle(s)[0])
	got := e.get(id)
	require.Equal(e.t, queue.StateScheduled, got.State)
	require.Equal(e.t, 0, got.Attempt, "a snooze does not spend an attempt")
	require.Empty(e.t, got.Errors)

	e.clock.Advance(5 * time.Minute)
	j = e.leaseOne(queue.DefaultQueue)
	require.Equal(e.t, 1, j.Attempt)
	s = settlement(j, queue.OutcomeRelease)
	s.RunAt = e.clock.Now()
	require.NoError(e.t, e.settle(s)[0])
	got = e.get(id)
	require.Equal(e.t, queue.StatePending, got.State, "a released job is ready at once")
	require.Equal(e.t, 0, got.Attempt, "a release refunds the attempt")
}

// One Settle call carrying many settlements, as a busy pool sends them:
// completions from several leases, interleaved, some with a stale token,
// one twice, beside other outcomes. Each settlement gets its own verdict.
func testSettleBatchMixed(e *env) {
	var jobs []queue.NewJob
	for i := range 300 {
		jobs = append(jobs, queue.NewJob{Kind: "k", Args: i})
	}
	_, err := e.q.EnqueueMany(e.ctx, jobs)
	require.NoError(e.t, err)
	var leased [][]*queue.Job
	for range 3 {
		leased = append(leased, e.lease(queue.DefaultQueue, 100))
	}
	var batch []queue.Settlement
	want := map[int64]bool{} // job id → settled (else lease lost)
	for i := range 100 {
		for l := range leased {
			j := leased[l][i]
			s := settlement(j, queue.OutcomeComplete)
			switch {
			case i%10 == 3:
				s.Token++ // stale
				want[j.ID] = false
			case i%10 == 7 && l == 1:
				s.Outcome = queue.OutcomeRetry
				s.RunAt = e.clock.Now().Add(time.Minute)
				s.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "boom"}
				want[j.ID] = true
			default:
				want[j.ID] = true
			}
			batch = append(batch, s)
		}
	}
	// The same completion twice, once right after the first and once at the
	// end: the first settles the job, the others find no lease.
	lost := make([]bool, len(batch))
	for i, s := range batch {
		lost[i] = !want[s.JobID]
	}
	again := batch[3]
	batch = append(batch[:4], append([]queue.Settlement{again}, batch[4:]...)...)
	lost = append(lost[:4], append([]bool{true}, lost[4:]...)...)
	batch, lost = append(batch, again), append(lost, true)
	errs := e.settle(batch...)
	for i, s := range batch {
		if lost[i] {
			require.ErrorIs(e.t, errs[i], queue.ErrLeaseLost, "settlement %d, job %d", i, s.JobID)
		} else {
			require.NoError(e.t, errs[i], "settlement %d, job %d", i, s.JobID)
		}
	}
	for _, s := range batch {
		j, err := e.store.Get(e.ctx, s.JobID)
		switch {
		case !want[s.JobID]:
			require.NoError(e.t, err)
			require.Equal(e.t, queue.StateRunning, j.State, "a stale token changes nothing")
		case s.Outcome == queue.OutcomeRetry:
			require.NoError(e.t, err)
			require.Equal(e.t, queue.StateScheduled, j.State)
		default:
			require.ErrorIs(e.t, err, queue.ErrNotFound, "completed job %d is deleted", s.JobID)
		}
	}
}

// One job settled twice in one call, under different outcomes: the first
// settlement in the call wins and the second finds no lease.
func testSettleSameJobTwice(e *env) {
	lease := func() *queue.Job {
		e.enqueue(queue.NewJob{Kind: "k"})
		return e.leaseOne(queue.DefaultQueue)
	}

	j := lease()
	retry := settlement(j, queue.OutcomeRetry)
	retry.RunAt = e.clock.Now().Add(time.Hour)
	retry.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "boom"}
	errs := e.settle(retry, settlement(j, queue.OutcomeComplete))
	require.NoError(e.t, errs[0])
	require.ErrorIs(e.t, errs[1], queue.ErrLeaseLost)
	require.Equal(e.t, queue.StateScheduled, e.get(j.ID).State, "the retry came first")

	j = lease()
	keep := settlement(j, queue.OutcomeComplete)
	keep.Keep = true
	errs = e.settle(keep, settlement(j, queue.OutcomeComplete))
	require.NoError(e.t, errs[0])
	require.ErrorIs(e.t, errs[1], queue.ErrLeaseLost)
	require.Equal(e.t, queue.StateCompleted, e.get(j.ID).State, "kept: the keeping completion came first")

	j = lease()
	snooze := settlement(j, queue.OutcomeSnooze)
	snooze.RunAt = e.clock.Now().Add(time.Hour)
	errs = e.settle(settlement(j, queue.OutcomeComplete), snooze)
	require.NoError(e.t, errs[0])
	require.ErrorIs(e.t, errs[1], queue.ErrLeaseLost)
	_, err := e.store.Get(e.ctx, j.ID)
	require.ErrorIs(e.t, err, queue.ErrNotFound, "the completion came first")
}

// The cancel outcome (a handler that gave up on purpose) ends the job
// cancelled, with its finish time, spending no retry.
func testSettleCancel(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "k", MaxAttempts: 5})
	j := e.leaseOne(queue.DefaultQueue)
	s := settlement(j, queue.OutcomeCancel)
	s.RunAt = e.clock.Now()
	require.NoError(e.t, e.settle(s)[0])
	got := e.get(id)
	require.Equal(e.t, queue.StateCancelled, got.State)
	require.True(e.t, got.FinishedAt.Equal(e.clock.Now()))
	require.Empty(e.t, e.lease(queue.DefaultQueue, 10), "a cancelled job never runs again")
}

// A settlement with IfExpired (the rescuer's) applies only when the lease
// ended before its Now: after that it settles as any other, and the
// worker's own late settlement then finds no lease.
func testSettleIfExpired(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "k", MaxAttempts: 5})
	j := e.leaseOne(queue.DefaultQueue)
	rescue := settlement(j, queue.OutcomeRetry)
	rescue.IfExpired, rescue.RunAt = true, e.clock.Now()
	rescue.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "lease expired"}
	require.ErrorIs(e.t, e.settle(rescue)[0], queue.ErrLeaseLost, "the lease still holds")
	require.Equal(e.t, queue.StateRunning, e.state(id))

	e.clock.Advance(31 * time.Second)
	rescue.Now, rescue.RunAt = e.clock.Now(), e.clock.Now()
	require.NoError(e.t, e.settle(rescue)[0], "the lease ended before Now")
	got := e.get(id)
	require.Equal(e.t, queue.StatePending, got.State)
	require.Len(e.t, got.Errors, 1)
	require.ErrorIs(e.t, e.settle(settlement(j, queue.OutcomeComplete))[0], queue.ErrLeaseLost, "the worker was too late")
}
