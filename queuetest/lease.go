package queuetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// leaseArea: Lease, Extend and Expired.
var leaseArea = area{"Lease", []testCase{
	{"HighestPriorityThenOldest", testLeaseOrder},
	{"ScheduledJobsWaitForRunAt", testLeaseScheduled},
	{"NextRunAtIsPerQueue", testLeaseNextRunAt},
	{"PausedQueueLeasesNothing", testLeasePaused},
	{"ExtendMovesLeaseExpiredListsLapsed", testExtendAndExpired},
	{"ExtendReportsFinishedJobsLost", testExtendFinishedJobsLost},
	{"ExpiredHonoursLimit", testExpiredLimit},
	{"StaleTokensSettleNothing", testFencing},
	{"UsesCallersClockNotTheWallClock", testLeaseCallersClock},
}}

func testLeaseOrder(e *env) {
	low1 := e.enqueue(queue.NewJob{Kind: "k", Priority: 0})
	e.clock.Advance(time.Second)
	high := e.enqueue(queue.NewJob{Kind: "k", Priority: 5})
	low2 := e.enqueue(queue.NewJob{Kind: "k", Priority: 0})
	mid := e.enqueue(queue.NewJob{Kind: "k", Priority: 1})
	other := e.enqueue(queue.NewJob{Kind: "k", Queue: "other"})

	first := e.lease(queue.DefaultQueue, 2)
	require.ElementsMatch(e.t, []int64{high, mid}, ids(first), "highest priority first")
	for _, j := range first {
		require.Equal(e.t, queue.StateRunning, j.State)
		require.Equal(e.t, 1, j.Attempt)
		require.Equal(e.t, "w1", j.LeasedBy)
		require.NotZero(e.t, j.LeaseToken)
		require.True(e.t, j.LeaseUntil.Equal(e.clock.Now().Add(30*time.Second)))
		require.True(e.t, j.AttemptedAt.Equal(e.clock.Now()))
	}
	rest := e.lease(queue.DefaultQueue, 10)
	require.Equal(e.t, []int64{low1, low2}, sortedIDs(rest))
	require.Empty(e.t, e.lease(queue.DefaultQueue, 10), "nothing left to lease")
	require.Equal(e.t, []int64{other}, ids(e.lease("other", 10)), "queues are separate")
	require.Equal(e.t, queue.StateRunning, e.get(high).State)

	// Within a priority, the older run time goes first.
	a := e.enqueue(queue.NewJob{Kind: "k", RunAt: t0.Add(-time.Hour)})
	b := e.enqueue(queue.NewJob{Kind: "k", RunAt: t0.Add(-2 * time.Hour)})
	require.Equal(e.t, b, e.leaseOne(queue.DefaultQueue).ID)
	require.Equal(e.t, a, e.leaseOne(queue.DefaultQueue).ID)
}

func testLeaseScheduled(e *env) {
	later := e.enqueue(queue.NewJob{Kind: "k", Delay: 10 * time.Minute})
	soon := e.enqueue(queue.NewJob{Kind: "k", Delay: time.Minute})
	now := e.clock.Now()
	res, err := e.store.Lease(e.ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 10, Now: now, Until: now.Add(time.Minute)})
	require.NoError(e.t, err)
	require.Empty(e.t, res.Jobs, "scheduled jobs wait for their time")
	require.True(e.t, res.NextRunAt.Equal(t0.Add(time.Minute)), "next run at %s", res.NextRunAt)

	e.clock.Advance(time.Minute)
	require.Equal(e.t, []int64{soon}, ids(e.lease(queue.DefaultQueue, 10)))
	e.clock.Advance(9 * time.Minute)
	require.Equal(e.t, []int64{later}, ids(e.lease(queue.DefaultQueue, 10)))
}

func testLeasePaused(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "k", Queue: "mail"})
	require.NoError(e.t, e.store.SetPaused(e.ctx, nil, "mail", true, e.clock.Now()))
	now := e.clock.Now()
	res, err := e.store.Lease(e.ctx, queue.LeaseParams{Queue: "mail", Limit: 10, Now: now, Until: now.Add(time.Minute)})
	require.NoError(e.t, err)
	require.True(e.t, res.Paused)
	require.Empty(e.t, res.Jobs)
	st, err := e.store.Stats(e.ctx, e.clock.Now())
	require.NoError(e.t, err)
	require.Len(e.t, st.Queues, 1)
	require.True(e.t, st.Queues[0].Paused)
	require.NoError(e.t, e.store.SetPaused(e.ctx, nil, "mail", false, e.clock.Now()))
	require.Equal(e.t, []int64{id}, ids(e.lease("mail", 10)))
}

func testExtendAndExpired(e *env) {
	a := e.enqueue(queue.NewJob{Kind: "k"})
	b := e.enqueue(queue.NewJob{Kind: "k"})
	jobs := e.lease(queue.DefaultQueue, 2)
	byID := map[int64]*queue.Job{jobs[0].ID: jobs[0], jobs[1].ID: jobs[1]}
	e.clock.Advance(20 * time.Second)
	ext, err := e.store.Extend(e.ctx, []queue.LeaseRef{{JobID: a, Token: byID[a].LeaseToken}}, e.clock.Now().Add(30*time.Second))
	require.NoError(e.t, err)
	require.Empty(e.t, ext.Lost)
	require.True(e.t, e.get(a).LeaseUntil.Equal(e.clock.Now().Add(30*time.Second)))

	e.clock.Advance(15 * time.Second) // b's lease (30s) has run out, a's not
	expired, err := e.store.Expired(e.ctx, e.clock.Now(), 10)
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{b}, ids(expired))
	require.Equal(e.t, byID[b].LeaseToken, expired[0].LeaseToken)

	// A rescuer read b as expired, but b's worker heartbeats before the
	// rescuer settles: the worker keeps the job.
	ext, err = e.store.Extend(e.ctx, []queue.LeaseRef{{JobID: b, Token: byID[b].LeaseToken}}, e.clock.Now().Add(30*time.Second))
	require.NoError(e.t, err)
	require.Empty(e.t, ext.Lost, "a late heartbeat still holds a lease nobody took")
	rescue := settlement(expired[0], queue.OutcomeRetry)
	rescue.RunAt, rescue.IfExpired = e.clock.Now(), true
	rescue.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "lease expired"}
	require.ErrorIs(e.t, e.settle(rescue)[0], queue.ErrLeaseLost)
	dead := settlement(expired[0], queue.OutcomeDead)
	dead.IfExpired = true
	require.ErrorIs(e.t, e.settle(dead)[0], queue.ErrLeaseLost)
	require.Equal(e.t, queue.StateRunning, e.get(b).State)

	// A cancel request shows on the next extend.
	state, err := e.store.Cancel(e.ctx, nil, a, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, queue.StateRunning, state)
	ext, err = e.store.Extend(e.ctx, []queue.LeaseRef{{JobID: a, Token: byID[a].LeaseToken}}, e.clock.Now().Add(30*time.Second))
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{a}, ext.CancelRequested)
}

func testFencing(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "k"})
	j := e.leaseOne(queue.DefaultQueue)
	stale := settlement(j, queue.OutcomeComplete)
	stale.Token++
	errs := e.settle(stale)
	require.ErrorIs(e.t, errs[0], queue.ErrLeaseLost)
	require.Equal(e.t, queue.StateRunning, e.get(id).State, "a wrong token changes nothing")

	// The lease expires, the job is rescued and leased again: the first
	// worker's token no longer settles it, whatever the outcome.
	e.clock.Advance(time.Minute)
	expired, err := e.store.Expired(e.ctx, e.clock.Now(), 10)
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{id}, ids(expired))
	r := settlement(expired[0], queue.OutcomeRetry)
	r.RunAt = e.clock.Now()
	r.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "lease expired"}
	require.NoError(e.t, e.settle(r)[0])
	j2 := e.leaseOne(queue.DefaultQueue)
	require.NotEqual(e.t, j.LeaseToken, j2.LeaseToken)
	for _, o := range []queue.Outcome{queue.OutcomeComplete, queue.OutcomeRetry, queue.OutcomeDead, queue.OutcomeSnooze, queue.OutcomeRelease, queue.OutcomeCancel} {
		s := settlement(j, o)
		s.RunAt = e.clock.Now()
		require.ErrorIs(e.t, e.settle(s)[0], queue.ErrLeaseLost, "outcome %s", o)
	}
	ext, err := e.store.Extend(e.ctx, []queue.LeaseRef{{JobID: j.ID, Token: j.LeaseToken}, {JobID: j2.ID, Token: j2.LeaseToken}}, e.clock.Now().Add(time.Minute))
	require.NoError(e.t, err)
	require.Equal(e.t, []int64{id}, ext.Lost)
	got := e.get(id)
	require.Equal(e.t, queue.StateRunning, got.State)
	require.Equal(e.t, j2.LeaseToken, got.LeaseToken)
	require.NoError(e.t, e.settle(settlement(j2, queue.OutcomeComplete))[0])
}

// NextRunAt is the earliest run time of the leased queue's scheduled jobs,
// not another queue's, and zero when the queue has none.
func testLeaseNextRunAt(e *env) {
	leaseAll := func(name string) queue.LeaseResult {
		e.t.Helper()
		now := e.clock.Now()
		res, err := e.store.Lease(e.ctx, queue.LeaseParams{Queue: name, Limit: 10, Now: now, Until: now.Add(time.Minute), Worker: "w1"})
		require.NoError(e.t, err)
		return res
	}
	require.True(e.t, leaseAll("a").NextRunAt.IsZero(), "an empty queue")
	e.enqueue(queue.NewJob{Kind: "k", Queue: "b", Delay: time.Minute})
	e.enqueue(queue.NewJob{Kind: "k", Queue: "a", Delay: time.Hour})
	e.enqueue(queue.NewJob{Kind: "k", Queue: "a"})
	res := leaseAll("a")
	require.Len(e.t, res.Jobs, 1)
	require.True(e.t, res.NextRunAt.Equal(t0.Add(time.Hour)), "queue a's scheduled job, not b's: %s", res.NextRunAt)
	e.clock.Advance(time.Hour)
	res = leaseAll("a")
	require.Len(e.t, res.Jobs, 1, "due: leased")
	require.True(e.t, res.NextRunAt.IsZero(), "nothing scheduled is left: %s", res.NextRunAt)
}

// Extend reports as lost the leases of jobs that are no longer running:
// completed, settled for a retry, or unknown. It extends the others in the
// same call.
func testExtendFinishedJobsLost(e *env) {
	for range 3 {
		e.enqueue(queue.NewJob{Kind: "k"})
	}
	jobs := e.lease(queue.DefaultQueue, 3)
	require.Len(e.t, jobs, 3)
	done, retried, live := jobs[0], jobs[1], jobs[2]
	e.complete(done)
	r := settlement(retried, queue.OutcomeRetry)
	r.RunAt = e.clock.Now().Add(time.Hour)
	r.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "boom"}
	require.NoError(e.t, e.settle(r)[0])
	until := e.clock.Now().Add(time.Hour)
	var refs []queue.LeaseRef
	for _, j := range jobs {
		refs = append(refs, queue.LeaseRef{JobID: j.ID, Token: j.LeaseToken})
	}
	refs = append(refs, queue.LeaseRef{JobID: 987654, Token: 1})
	ext, err := e.store.Extend(e.ctx, refs, until)
	require.NoError(e.t, err)
	require.ElementsMatch(e.t, []int64{done.ID, retried.ID, 987654}, ext.Lost)
	require.Empty(e.t, ext.CancelRequested)
	require.True(e.t, e.get(live.ID).LeaseUntil.Equal(until))
	require.Equal(e.t, queue.StateScheduled, e.state(retried.ID), "a lost lease's Extend changes nothing")
}

// Expired returns at most limit jobs, and only running ones whose lease
// ended before now.
func testExpiredLimit(e *env) {
	for range 5 {
		e.enqueue(queue.NewJob{Kind: "k"})
	}
	leased := e.lease(queue.DefaultQueue, 4)
	e.complete(leased[0])
	e.clock.Advance(29 * time.Second)
	expired, err := e.store.Expired(e.ctx, e.clock.Now(), 10)
	require.NoError(e.t, err)
	require.Empty(e.t, expired, "leases run for 30s")
	e.clock.Advance(2 * time.Second)
	expired, err = e.store.Expired(e.ctx, e.clock.Now(), 2)
	require.NoError(e.t, err)
	require.Len(e.t, expired, 2)
	expired, err = e.store.Expired(e.ctx, e.clock.Now(), 10)
	require.NoError(e.t, err)
	require.ElementsMatch(e.t, ids(leased[1:]), ids(expired), "not the completed job, nor the pending one")
	for _, j := range expired {
		require.Equal(e.t, queue.StateRunning, j.State)
		require.NotZero(e.t, j.LeaseToken)
	}
}

// A backend takes every time from its caller, never from the wall clock:
// jobs enqueued, leased and settled decades away from today behave as at
// any other time.
func testLeaseCallersClock(e *env) {
	for _, at := range []time.Time{time.Date(2091, 7, 1, 0, 0, 0, 0, time.UTC), time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)} {
		e.clock.Set(at)
		ready := e.enqueue(queue.NewJob{Kind: "k", Queue: "c"})
		later := e.enqueue(queue.NewJob{Kind: "k", Queue: "c", Delay: time.Minute})
		require.True(e.t, e.get(ready).CreatedAt.Equal(at))
		require.Equal(e.t, queue.StateScheduled, e.state(later))
		require.Equal(e.t, time.Duration(0), e.queueStats("c").OldestPending)
		j := e.leaseOne("c")
		require.Equal(e.t, ready, j.ID, "only the ready job, at %s", at)
		require.True(e.t, j.LeaseUntil.Equal(at.Add(30*time.Second)))
		e.clock.Set(at.Add(time.Minute))
		require.Equal(e.t, []int64{later}, ids(e.lease("c", 10)))
		expired, err := e.store.Expired(e.ctx, at.Add(31*time.Second), 10)
		require.NoError(e.t, err)
		require.Equal(e.t, []int64{ready}, ids(expired), "by the caller's now")
		for _, id := range []int64{ready, later} {
			e.complete(e.get(id))
		}
	}
}
