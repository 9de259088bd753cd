package queuetest

import (
	"fmt"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// queueAPIArea: checks queue.Queue makes before it calls the store. They
// are Queue's promises, not the store's (the store is never asked), kept
// here because they need a store under the Queue.
var queueAPIArea = area{"QueueAPI", []testCase{
	{"RefusesBadArgumentsBeforeTheStore", testQueueRefusesBadArguments},
	{"RetrySaysWhyAJobStayed", testQueueRetryErrors},
}}

// Queue refuses arguments no store call should see: an empty queue name,
// an empty dead filter, a list filter out of range, a nil transaction
// where the write must commit with the caller's work.
func testQueueRefusesBadArguments(e *env) {
	require.ErrorIs(e.t, e.q.Inspector().Pause(e.ctx, ""), queue.ErrInvalidArgument)
	_, err := e.q.Inspector().RetryDead(e.ctx, queue.DeadFilter{})
	require.ErrorIs(e.t, err, queue.ErrInvalidArgument, "an empty filter is refused")
	_, err = e.q.Inspector().DeleteDead(e.ctx, queue.DeadFilter{})
	require.ErrorIs(e.t, err, queue.ErrInvalidArgument, "an empty filter is refused")
	for _, f := range []queue.ListFilter{{State: "bogus"}, {Limit: -1}, {Limit: 1001}, {Queue: "bad queue"}, {BeforeID: -5}} {
		_, err := e.q.Inspector().List(e.ctx, f)
		require.ErrorIs(e.t, err, queue.ErrInvalidArgument, "filter %+v", f)
	}
	_, err = e.q.MarkProcessedTx(e.ctx, nil, "k")
	require.ErrorIs(e.t, err, queue.ErrInvalidArgument)
	_, err = e.q.EnqueueTx(e.ctx, nil, queue.NewJob{Kind: "outbox"})
	require.ErrorIs(e.t, err, queue.ErrInvalidArgument)
}

// Retry of one job says why it did not move: the job is not dead, does
// not exist, or a live job holds its unique key (a *KeyHeldError naming
// the holder, not "not dead").
func testQueueRetryErrors(e *env) {
	pending := e.enqueue(queue.NewJob{Kind: "k"})
	require.ErrorIs(e.t, e.q.Inspector().Retry(e.ctx, pending), queue.ErrNotDead)
	require.ErrorIs(e.t, e.q.Inspector().Retry(e.ctx, 999999), queue.ErrNotFound)

	a := e.killNew(queue.NewJob{UniqueKey: "charge:1"})
	holder := e.enqueue(queue.NewJob{Kind: "charge", Queue: "r", UniqueKey: "charge:1"})
	err := e.q.Inspector().Retry(e.ctx, a)
	require.ErrorIs(e.t, err, queue.ErrUniqueKeyHeld)
	require.NotErrorIs(e.t, err, queue.ErrNotDead, "job %d is dead", a)
	var held *queue.KeyHeldError
	require.ErrorAs(e.t, err, &held)
	require.Equal(e.t, queue.KeyHeldError{JobID: a, Key: "charge:1", HolderID: holder}, *held)
	require.Contains(e.t, err.Error(), fmt.Sprintf("live job %d", holder))
	require.Equal(e.t, queue.StateDead, e.get(a).State)
}
