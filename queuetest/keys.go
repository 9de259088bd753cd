package queuetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// A running head whose cancel was requested ends cancelled when it settles
// with retry, snooze or release: its key moves on then too.
func testCancelRequestedHeadFreesKey(e *env) {
	for _, o := range []queue.Outcome{queue.OutcomeRetry, queue.OutcomeSnooze, queue.OutcomeRelease} {
		key := "k:" + o.String()
		head := e.enqueue(queue.NewJob{Kind: "k", Queue: "c", OrderKey: key})
		next := e.enqueue(queue.NewJob{Kind: "k", Queue: "c", OrderKey: key})
		j := e.leaseOne("c")
		require.Equal(e.t, head, j.ID)
		st, err := e.q.Inspector().Cancel(e.ctx, head)
		require.NoError(e.t, err)
		require.Equal(e.t, queue.StateRunning, st)
		s := settlement(j, o)
		s.OrderKey, s.RunAt = key, e.clock.Now()
		s.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "failed anyway"}
		require.NoError(e.t, e.settle(s)[0])
		require.Equal(e.t, queue.StateCancelled, e.get(head).State)
		require.Equal(e.t, queue.StatePending, e.get(next).State, "%v of a cancel-requested head: key stuck", o)
		e.complete(e.leaseOne("c"))
	}
}

// A blocked follower that expires blocks only the later jobs of its key,
// not older ones.
func testExpiredFollowerBlocksOnlyLaterJobs(e *env) {
	h := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "x"})
	f2 := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "x"})
	f3 := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "x", ExpiresAt: t0.Add(time.Minute)})
	j := e.leaseOne(queue.DefaultQueue)
	require.Equal(e.t, h, j.ID)
	e.clock.Advance(2 * time.Minute)
	require.Empty(e.t, e.lease(queue.DefaultQueue, 10)) // expires f3
	require.Equal(e.t, queue.StateDead, e.get(f3).State)
	e.complete(j)
	require.Equal(e.t, queue.StatePending, e.get(f2).State, "f2 is older than the expired f3 and should be next")
}

// A retried dead job waits for an older dead job that still holds its key
// (and runs once that one is dealt with).
func testRetryDeadWaitsForOlderBlocker(e *env) {
	h := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "x"})
	f := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "x", ExpiresAt: t0.Add(time.Minute)})
	j := e.leaseOne(queue.DefaultQueue)
	e.clock.Advance(2 * time.Minute)
	e.lease(queue.DefaultQueue, 10) // f expires, dead
	e.kill(j)                       // h dies, holds the key
	require.Equal(e.t, queue.StateDead, e.get(h).State)
	require.Equal(e.t, queue.StateDead, e.get(f).State)
	require.NoError(e.t, e.q.Inspector().Retry(e.ctx, f))
	require.Equal(e.t, queue.StateBlocked, e.get(f).State, "f must not run before h, which holds the key")
	n, err := e.q.Inspector().DeleteDead(e.ctx, queue.DeadFilter{IDs: []int64{h}})
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n)
	require.Equal(e.t, queue.StatePending, e.get(f).State, "with h gone, f is next")
}

// A duplicate enqueue adds nothing, so a full queue does not refuse it; a
// new job is still refused.
func testDuplicateWhenFull(e *env) {
	require.NoError(e.t, e.q.Inspector().SetQueueSettings(e.ctx, "m", queue.QueueSettings{MaxPending: 1}))
	first, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", Queue: "m", UniqueKey: "u"})
	require.NoError(e.t, err)
	again, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", Queue: "m", UniqueKey: "u"})
	require.NoError(e.t, err, "a duplicate adds no job")
	require.True(e.t, again.Duplicate)
	require.Equal(e.t, first.ID, again.ID)
	_, err = e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", Queue: "m", UniqueKey: "v"})
	var full *queue.QueueFullError
	require.ErrorAs(e.t, err, &full)
}
