package queuetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// runNowArea: RunNow, an operator's "run this scheduled job now".
var runNowArea = area{"RunNow", []testCase{
	{"ScheduledRunsAtOnceKeepingAttempts", testRunNowScheduled},
	{"RefusesOtherStates", testRunNowRefuses},
	{"TxRollsBack", testRunNowTx},
}}

// A job scheduled an hour ahead, and one waiting for a retry's backoff,
// become pending with run time now and are leased at once; the retried
// one keeps its attempt count and error history.
func testRunNowScheduled(e *env) {
	later := e.enqueue(queue.NewJob{Kind: "report", RunAt: e.clock.Now().Add(time.Hour)})
	_ = e.enqueue(queue.NewJob{Kind: "k", Queue: "retries"})
	j := e.leaseOne("retries")
	r := settlement(j, queue.OutcomeRetry)
	r.RunAt = e.clock.Now().Add(10 * time.Minute)
	r.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "smtp 451"}
	require.NoError(e.t, e.settle(r)[0])
	require.Equal(e.t, queue.StateScheduled, e.get(j.ID).State)

	require.Empty(e.t, e.lease(queue.DefaultQueue, 10), "not due yet")
	require.NoError(e.t, e.store.RunNow(e.ctx, nil, later, e.clock.Now()))
	require.NoError(e.t, e.store.RunNow(e.ctx, nil, j.ID, e.clock.Now()))
	got := e.get(later)
	require.Equal(e.t, queue.StatePending, got.State)
	require.True(e.t, got.RunAt.Equal(e.clock.Now()), "run time %v, want now %v", got.RunAt, e.clock.Now())
	require.Equal(e.t, later, e.leaseOne(queue.DefaultQueue).ID)
	again := e.leaseOne("retries")
	require.Equal(e.t, j.ID, again.ID)
	require.Equal(e.t, 2, again.Attempt, "the retried job's attempts carry on")
	require.Len(e.t, again.Errors, 1, "its error history stays")
}

// Pending, running, completed-and-kept, cancelled, dead and unknown jobs
// are refused, each with its sentinel, and left as they were.
func testRunNowRefuses(e *env) {
	pending := e.enqueue(queue.NewJob{Kind: "k", Queue: "p"})
	running := e.enqueue(queue.NewJob{Kind: "k", Queue: "r"})
	e.leaseOne("r")
	dead := e.deadIn("d")
	for _, id := range []int64{pending, running, dead} {
		before := e.state(id)
		err := e.store.RunNow(e.ctx, nil, id, e.clock.Now())
		require.ErrorIs(e.t, err, queue.ErrNotScheduled, "job %d (%s)", id, before)
		require.Contains(e.t, err.Error(), string(before), "the refusal names the state")
		require.Equal(e.t, before, e.state(id))
	}
	require.ErrorIs(e.t, e.store.RunNow(e.ctx, nil, 424242, e.clock.Now()), queue.ErrNotFound)
}

// RunNow in a transaction that rolls back leaves the job scheduled.
func testRunNowTx(e *env) {
	later := e.enqueue(queue.NewJob{Kind: "k", RunAt: e.clock.Now().Add(time.Hour)})
	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	require.NoError(e.t, e.store.RunNow(e.ctx, tx, later, e.clock.Now()))
	require.NoError(e.t, tx.Rollback())
	require.Equal(e.t, queue.StateScheduled, e.get(later).State)
}
