package queuetest

import (
	"context"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// queueArea: MaxPending.
var queueArea = area{"QueueSettings", []testCase{
	{"MaxPendingRefusesBeyondLimit", testBackPressure},
	{"MaxPendingCountsBlockedJobs", testMaxPendingCountsBlocked},
}}

func testBackPressure(e *env) {
	e.settings("mail", queue.QueueSettings{MaxPending: 3})
	for range 2 {
		e.enqueue(queue.NewJob{Kind: "k", Queue: "mail"})
	}
	e.enqueue(queue.NewJob{Kind: "k", Queue: "mail", Delay: time.Hour}) // scheduled jobs count
	_, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", Queue: "mail"})
	var full *queue.QueueFullError
	require.ErrorAs(e.t, err, &full)
	require.ErrorIs(e.t, err, queue.ErrQueueFull)
	require.Equal(e.t, "mail", full.Queue)
	require.Equal(e.t, 3, full.Limit)
	require.Contains(e.t, err.Error(), `queue "mail" is full`)
	e.enqueue(queue.NewJob{Kind: "k"}) // other queues are not limited

	e.leaseOne("mail") // running jobs do not count
	_, err = e.q.EnqueueMany(e.ctx, []queue.NewJob{{Kind: "k", Queue: "mail"}, {Kind: "k", Queue: "mail"}})
	require.ErrorIs(e.t, err, queue.ErrQueueFull, "all or nothing: two do not fit")
	e.enqueue(queue.NewJob{Kind: "k", Queue: "mail"})
	st, err := e.store.Stats(e.ctx, e.clock.Now())
	require.NoError(e.t, err)
	for _, qs := range st.Queues {
		if qs.Name == "mail" {
			require.Equal(e.t, 3, qs.MaxPending)
			require.Equal(e.t, 2, qs.Pending)
			require.Equal(e.t, 1, qs.Scheduled)
		}
	}
	e.settings("mail", queue.QueueSettings{})
	e.enqueue(queue.NewJob{Kind: "k", Queue: "mail"})

	// Waiting for room instead of failing: gives up when its context ends.
	q, err := queue.New(e.store, queue.Options{Now: e.clock.Now, WaitWhenFull: true, FullRetryInterval: time.Millisecond})
	require.NoError(e.t, err)
	require.NoError(e.t, q.Inspector().SetQueueSettings(e.ctx, "tiny", queue.QueueSettings{MaxPending: 1}))
	_, err = q.Enqueue(e.ctx, queue.NewJob{Kind: "k", Queue: "tiny"})
	require.NoError(e.t, err)
	ctx, cancel := context.WithTimeout(e.ctx, 2*time.Second) // room for the first refusal under -race
	defer cancel()
	done := make(chan error, 1)
	_, err = q.Enqueue(ctx, queue.NewJob{Kind: "k", Queue: "tiny"})
	require.ErrorIs(e.t, err, queue.ErrQueueFull, "the last refusal is reported")
	require.ErrorIs(e.t, err, context.DeadlineExceeded)
	// And succeeds once there is room.
	go func() {
		_, err := q.Enqueue(e.ctx, queue.NewJob{Kind: "k", Queue: "tiny"})
		done <- err
	}()
	e.complete(e.leaseOne("tiny"))
	require.NoError(e.t, <-done)
}

// Blocked jobs (waiting behind their ordering key) count against
// MaxPending with pending and scheduled ones; running ones do not.
func testMaxPendingCountsBlocked(e *env) {
	e.settings("m", queue.QueueSettings{MaxPending: 3})
	head, f := e.keyed("m", "x", 2)
	_, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", Queue: "m"})
	require.ErrorIs(e.t, err, queue.ErrQueueFull, "one pending and two blocked fill it")
	qs := e.queueStats("m")
	require.Equal(e.t, 1, qs.Pending)
	require.Equal(e.t, 2, qs.Blocked)
	require.Equal(e.t, 3, qs.MaxPending)
	require.Equal(e.t, head, e.leaseOne("m").ID)
	e.enqueue(queue.NewJob{Kind: "k", Queue: "m"})
	_, err = e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", Queue: "m", OrderKey: "x"})
	require.ErrorIs(e.t, err, queue.ErrQueueFull, "a new blocked job counts too")
	require.Equal(e.t, queue.StateBlocked, e.state(f[1]))
}
