package queuetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// expiryArea: jobs not started by ExpiresAt.
var expiryArea = area{"Expiry", []testCase{
	{"WaitingJobDiesAtLease", testExpiry},
	{"ScheduledJobDiesAtLease", testExpiryScheduled},
	{"ExpiredFollowerBlocksOnlyLaterJobs", testExpiredFollowerBlocksOnlyLaterJobs},
}}

func testExpiry(e *env) {
	soon := e.enqueue(queue.NewJob{Kind: "k", ExpiresAt: t0.Add(time.Minute)})
	later := e.enqueue(queue.NewJob{Kind: "k", ExpiresAt: t0.Add(time.Hour)})
	keyed := e.enqueue(queue.NewJob{Kind: "k", Queue: "o", OrderKey: "x", ExpiresAt: t0.Add(time.Minute)})
	next := e.enqueue(queue.NewJob{Kind: "k", Queue: "o", OrderKey: "x"})
	e.settings("o", queue.QueueSettings{DeadSkipsKey: true})
	e.clock.Advance(2 * time.Minute)
	require.Equal(e.t, []int64{later}, ids(e.lease(queue.DefaultQueue, 10)), "an expired job never starts")
	dead := e.get(soon)
	require.Equal(e.t, queue.StateDead, dead.State)
	require.Equal(e.t, queue.ExpiredReason(t0.Add(time.Minute)), dead.DeadReason, "the core's reason, word for word")
	require.Equal(e.t, []int64{next}, ids(e.lease("o", 10)), "an expired head lets its key move on (DeadSkipsKey)")
	require.Equal(e.t, queue.StateDead, e.get(keyed).State)

	_, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", ExpiresAt: e.clock.Now().Add(-time.Second)})
	require.ErrorIs(e.t, err, queue.ErrInvalidJob)
	_, err = e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", Delay: time.Hour, ExpiresAt: e.clock.Now().Add(time.Minute)})
	require.ErrorContains(e.t, err, "ExpiresAt")
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

// A scheduled job whose ExpiresAt passes before a lease starts it dies as a
// waiting one does, with the reason naming its deadline.
func testExpiryScheduled(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "k", Delay: time.Minute, ExpiresAt: t0.Add(2 * time.Minute)})
	e.clock.Advance(3 * time.Minute)
	require.Empty(e.t, e.lease(queue.DefaultQueue, 10))
	dead := e.get(id)
	require.Equal(e.t, queue.StateDead, dead.State)
	require.Contains(e.t, dead.DeadReason, "expired: not started by 2026-03-01T09:02:00Z")
	require.Zero(e.t, dead.Attempt, "it never ran")
}
