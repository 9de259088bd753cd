package queuetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// cancelArea: Cancel and Delete.
var cancelArea = area{"Cancel", []testCase{
	{"CancelWaitingAndRequestRunning", testCancel},
	{"DeleteAnyButRunning", testDelete},
	{"CancelWaitingNeverStopsARunningJob", testCancelWaiting},
}}

func testCancel(e *env) {
	pending := e.enqueue(queue.NewJob{Kind: "k"})
	scheduled := e.enqueue(queue.NewJob{Kind: "k", Delay: time.Hour})
	running := e.enqueue(queue.NewJob{Kind: "k", Queue: "run"})
	j := e.leaseOne("run")

	for _, id := range []int64{pending, scheduled} {
		state, err := e.store.Cancel(e.ctx, nil, id, e.clock.Now())
		require.NoError(e.t, err)
		require.Equal(e.t, queue.StateCancelled, state)
		require.Equal(e.t, queue.StateCancelled, e.get(id).State)
	}
	require.Empty(e.t, e.lease(queue.DefaultQueue, 10), "cancelled jobs never run")
	e.clock.Advance(2 * time.Hour)
	require.Empty(e.t, e.lease(queue.DefaultQueue, 10))

	state, err := e.store.Cancel(e.ctx, nil, running, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, queue.StateRunning, state, "a running job is asked to stop")
	require.True(e.t, e.get(running).CancelRequested)
	// If its handler then fails, the job ends cancelled, not retried.
	s := settlement(j, queue.OutcomeRetry)
	s.RunAt = e.clock.Now()
	s.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "context canceled"}
	require.NoError(e.t, e.settle(s)[0])
	require.Equal(e.t, queue.StateCancelled, e.get(running).State)

	_, err = e.store.Cancel(e.ctx, nil, pending, e.clock.Now())
	require.ErrorIs(e.t, err, queue.ErrNotCancellable)
	_, err = e.store.Cancel(e.ctx, nil, 424242, e.clock.Now())
	require.ErrorIs(e.t, err, queue.ErrNotFound)

	another := e.enqueue(queue.NewJob{Kind: "k"})
	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	_, err = e.store.Cancel(e.ctx, tx, another, e.clock.Now())
	require.NoError(e.t, err)
	require.NoError(e.t, tx.Rollback())
	require.Equal(e.t, queue.StatePending, e.get(another).State, "a rolled-back cancel changes nothing")
}

func testDelete(e *env) {
	pending := e.enqueue(queue.NewJob{Kind: "k"})
	e.delete(pending)
	_, err := e.store.Get(e.ctx, pending)
	require.ErrorIs(e.t, err, queue.ErrNotFound)

	running := e.enqueue(queue.NewJob{Kind: "k"})
	j := e.leaseOne(queue.DefaultQueue)
	require.ErrorIs(e.t, e.store.Delete(e.ctx, nil, running, e.clock.Now()), queue.ErrRunning)

	d := settlement(j, queue.OutcomeDead)
	d.Reason = "test"
	require.NoError(e.t, e.settle(d)[0])
	require.NoError(e.t, e.store.Delete(e.ctx, nil, running, e.clock.Now()), "dead jobs can be deleted")
	_, err = e.store.Get(e.ctx, running)
	require.ErrorIs(e.t, err, queue.ErrNotFound)
	require.ErrorIs(e.t, e.store.Delete(e.ctx, nil, running, e.clock.Now()), queue.ErrNotFound)
}

// CancelWaiting cancels pending, scheduled and blocked jobs as Cancel
// does, and refuses a running job without asking its worker to stop.
func testCancelWaiting(e *env) {
	pending := e.enqueue(queue.NewJob{Kind: "k", Queue: "w"})
	later := e.enqueue(queue.NewJob{Kind: "k", Queue: "w", RunAt: e.clock.Now().Add(time.Hour)})
	running := e.enqueue(queue.NewJob{Kind: "k", Queue: "r"})
	e.leaseOne("r")
	require.NoError(e.t, e.store.CancelWaiting(e.ctx, nil, pending, e.clock.Now()))
	require.NoError(e.t, e.store.CancelWaiting(e.ctx, nil, later, e.clock.Now()))
	require.Equal(e.t, queue.StateCancelled, e.state(pending))
	require.Equal(e.t, queue.StateCancelled, e.state(later))

	err := e.store.CancelWaiting(e.ctx, nil, running, e.clock.Now())
	require.ErrorIs(e.t, err, queue.ErrNotCancellable)
	got := e.get(running)
	require.Equal(e.t, queue.StateRunning, got.State)
	require.False(e.t, got.CancelRequested, "a running job is not asked to stop")
	require.ErrorIs(e.t, e.store.CancelWaiting(e.ctx, nil, pending, e.clock.Now()), queue.ErrNotCancellable, "already cancelled")
	require.ErrorIs(e.t, e.store.CancelWaiting(e.ctx, nil, 424242, e.clock.Now()), queue.ErrNotFound)
}
