package queuetest

import (
	"context"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

func (e *env) complete(j *queue.Job) {
	e.t.Helper()
	s := settlement(j, queue.OutcomeComplete)
	s.OrderKey = j.OrderKey
	require.NoError(e.t, e.settle(s)[0])
}

func (e *env) kill(j *queue.Job) {
	e.t.Helper()
	s := settlement(j, queue.OutcomeDead)
	s.OrderKey, s.Reason = j.OrderKey, "test"
	require.NoError(e.t, e.settle(s)[0])
}

func testOrderKeys(e *env) {
	a1 := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "order:1"})
	a2 := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "order:1", Priority: 9})
	a3 := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "order:1"})
	b1 := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "order:2"})
	other := e.enqueue(queue.NewJob{Kind: "k", Queue: "other", OrderKey: "order:1"})
	require.Equal(e.t, queue.StateBlocked, e.get(a2).State)
	require.Equal(e.t, queue.StatePending, e.get(other).State, "keys are per queue")

	first := e.lease(queue.DefaultQueue, 10)
	require.Equal(e.t, []int64{a1, b1}, sortedIDs(first), "one job per key, whatever its priority")
	st, err := e.q.Inspector().Stats(e.ctx)
	require.NoError(e.t, err)
	require.Equal(e.t, 2, st.Queues[0].Blocked)
	require.Equal(e.t, 1, st.Queues[0].BlockedKeys)

	byID := map[int64]*queue.Job{first[0].ID: first[0], first[1].ID: first[1]}
	// A retry keeps the key: a2 stays blocked.
	r := settlement(byID[a1], queue.OutcomeRetry)
	r.RunAt, r.OrderKey = e.clock.Now(), "order:1"
	r.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "flaky"}
	require.NoError(e.t, e.settle(r)[0])
	require.Equal(e.t, queue.StateBlocked, e.get(a2).State)
	j := e.leaseOne(queue.DefaultQueue)
	require.Equal(e.t, a1, j.ID)
	e.complete(j)
	require.Equal(e.t, queue.StatePending, e.get(a2).State, "completing the head releases the next")
	require.Equal(e.t, queue.StateBlocked, e.get(a3).State)

	// A dead head blocks its key until an operator acts (the default).
	j = e.leaseOne(queue.DefaultQueue)
	require.Equal(e.t, a2, j.ID)
	e.kill(j)
	require.Equal(e.t, queue.StateBlocked, e.get(a3).State)
	require.Empty(e.t, e.lease(queue.DefaultQueue, 10))
	st, err = e.q.Inspector().Stats(e.ctx)
	require.NoError(e.t, err)
	require.Equal(e.t, 1, st.Queues[0].StuckKeys)
	late := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "order:1"})
	require.Equal(e.t, queue.StateBlocked, e.get(late).State, "a stuck key holds new jobs back too")

	// Retrying the dead job makes it the head again, ahead of a3.
	require.NoError(e.t, e.q.Inspector().Retry(e.ctx, a2))
	j = e.leaseOne(queue.DefaultQueue)
	require.Equal(e.t, a2, j.ID)
	e.complete(j)
	require.Equal(e.t, a3, e.leaseOne(queue.DefaultQueue).ID)

	// Completing b1 with no followers leaves nothing behind.
	e.complete(byID[b1])

	// An idempotency key holds for a blocked job too.
	held, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", OrderKey: "order:1", UniqueKey: "u:1"})
	require.NoError(e.t, err)
	require.Equal(e.t, queue.StateBlocked, e.get(held.ID).State)
	again, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", OrderKey: "order:1", UniqueKey: "u:1"})
	require.NoError(e.t, err)
	require.True(e.t, again.Duplicate)
	require.Equal(e.t, held.ID, again.ID)
}

func testOrderKeysDeadSkips(e *env) {
	require.NoError(e.t, e.q.Inspector().SetQueueSettings(e.ctx, "sync", queue.QueueSettings{DeadSkipsKey: true}))
	a1 := e.enqueue(queue.NewJob{Kind: "k", Queue: "sync", OrderKey: "sku:9"})
	a2 := e.enqueue(queue.NewJob{Kind: "k", Queue: "sync", OrderKey: "sku:9"})
	j := e.leaseOne("sync")
	require.Equal(e.t, a1, j.ID)
	e.kill(j)
	require.Equal(e.t, queue.StatePending, e.get(a2).State, "the key moves on past a dead job")

	// Switching the setting later releases keys held by dead jobs now.
	b1 := e.enqueue(queue.NewJob{Kind: "k", Queue: "held", OrderKey: "x"})
	b2 := e.enqueue(queue.NewJob{Kind: "k", Queue: "held", OrderKey: "x"})
	j = e.leaseOne("held")
	require.Equal(e.t, b1, j.ID)
	e.kill(j)
	require.Equal(e.t, queue.StateBlocked, e.get(b2).State)
	require.NoError(e.t, e.q.Inspector().SetQueueSettings(e.ctx, "held", queue.QueueSettings{DeadSkipsKey: true}))
	require.Equal(e.t, queue.StatePending, e.get(b2).State)
}

func testOrderKeysCancelAndDelete(e *env) {
	a1 := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "o"})
	a2 := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "o"})
	a3 := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "o"})
	a4 := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "o", Delay: time.Hour})
	_, err := e.q.Inspector().Cancel(e.ctx, a2) // a follower: nothing moves
	require.NoError(e.t, err)
	require.Equal(e.t, queue.StatePending, e.get(a1).State)
	require.Equal(e.t, queue.StateBlocked, e.get(a3).State)
	_, err = e.q.Inspector().Cancel(e.ctx, a1) // the head: a3 is next
	require.NoError(e.t, err)
	require.Equal(e.t, queue.StatePending, e.get(a3).State)
	require.NoError(e.t, e.q.Inspector().Delete(e.ctx, a3))
	require.Equal(e.t, queue.StateScheduled, e.get(a4).State, "the next head keeps its own run time")
	// A dead head deleted by an operator releases the key.
	e.clock.Advance(time.Hour)
	j := e.leaseOne(queue.DefaultQueue)
	require.Equal(e.t, a4, j.ID)
	a5 := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "o"})
	e.kill(j)
	require.Equal(e.t, queue.StateBlocked, e.get(a5).State)
	require.NoError(e.t, e.q.Inspector().Delete(e.ctx, a4))
	require.Equal(e.t, queue.StatePending, e.get(a5).State)
}

// DeleteDead removes dead jobs only, by IDs or by queue and kind, and a
// dead job that held its ordering key frees it.
func testDeleteDead(e *env) {
	die := func(j queue.NewJob) int64 {
		id := e.enqueue(j)
		e.kill(e.leaseOne(j.Queue))
		require.Equal(e.t, queue.StateDead, e.get(id).State)
		return id
	}
	a1 := die(queue.NewJob{Kind: "x", Queue: "a"})
	a2 := die(queue.NewJob{Kind: "y", Queue: "a"})
	b1 := die(queue.NewJob{Kind: "x", Queue: "b"})
	keyed := die(queue.NewJob{Kind: "k", Queue: "c", OrderKey: "order:9"})
	next := e.enqueue(queue.NewJob{Kind: "k", Queue: "c", OrderKey: "order:9"})
	require.Equal(e.t, queue.StateBlocked, e.get(next).State, "the dead job holds its key")
	live := e.enqueue(queue.NewJob{Kind: "x", Queue: "a"})

	_, err := e.q.Inspector().DeleteDead(e.ctx, queue.DeadFilter{})
	require.ErrorIs(e.t, err, queue.ErrInvalidArgument, "an empty filter is refused")

	// A job retried meanwhile is live and stays; a live ID is ignored.
	require.NoError(e.t, e.q.Inspector().Retry(e.ctx, a1))
	n, err := e.q.Inspector().DeleteDead(e.ctx, queue.DeadFilter{IDs: []int64{a1, live, 999999}})
	require.NoError(e.t, err)
	require.Zero(e.t, n)
	require.Equal(e.t, queue.StatePending, e.get(a1).State)
	require.Equal(e.t, queue.StatePending, e.get(live).State)

	n, err = e.q.Inspector().DeleteDead(e.ctx, queue.DeadFilter{Queue: "a", Kind: "y"})
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n)
	_, err = e.q.Inspector().Get(e.ctx, a2)
	require.ErrorIs(e.t, err, queue.ErrNotFound)
	require.Equal(e.t, queue.StateDead, e.get(b1).State, "other queues keep theirs")

	n, err = e.q.Inspector().DeleteDead(e.ctx, queue.DeadFilter{IDs: []int64{keyed}})
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n)
	require.Equal(e.t, queue.StatePending, e.get(next).State, "the key moved on")

	n, err = e.q.Inspector().DeleteDead(e.ctx, queue.DeadFilter{All: true})
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n, "b1, the last dead job")
	dead, err := e.q.Inspector().List(e.ctx, queue.ListFilter{State: queue.StateDead})
	require.NoError(e.t, err)
	require.Empty(e.t, dead)
}

func testExpiry(e *env) {
	soon := e.enqueue(queue.NewJob{Kind: "k", ExpiresAt: t0.Add(time.Minute)})
	later := e.enqueue(queue.NewJob{Kind: "k", ExpiresAt: t0.Add(time.Hour)})
	keyed := e.enqueue(queue.NewJob{Kind: "k", Queue: "o", OrderKey: "x", ExpiresAt: t0.Add(time.Minute)})
	next := e.enqueue(queue.NewJob{Kind: "k", Queue: "o", OrderKey: "x"})
	require.NoError(e.t, e.q.Inspector().SetQueueSettings(e.ctx, "o", queue.QueueSettings{DeadSkipsKey: true}))
	e.clock.Advance(2 * time.Minute)
	require.Equal(e.t, []int64{later}, ids(e.lease(queue.DefaultQueue, 10)), "an expired job never starts")
	dead := e.get(soon)
	require.Equal(e.t, queue.StateDead, dead.State)
	require.Contains(e.t, dead.DeadReason, "expired: not started by 2026-03-01T09:01:00Z")
	require.Equal(e.t, []int64{next}, ids(e.lease("o", 10)), "an expired head lets its key move on (DeadSkipsKey)")
	require.Equal(e.t, queue.StateDead, e.get(keyed).State)

	_, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", ExpiresAt: e.clock.Now().Add(-time.Second)})
	require.ErrorIs(e.t, err, queue.ErrInvalidJob)
	_, err = e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", Delay: time.Hour, ExpiresAt: e.clock.Now().Add(time.Minute)})
	require.ErrorContains(e.t, err, "ExpiresAt")
}

func testBackPressure(e *env) {
	require.NoError(e.t, e.q.Inspector().SetQueueSettings(e.ctx, "mail", queue.QueueSettings{MaxPending: 3}))
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
	st, err := e.q.Inspector().Stats(e.ctx)
	require.NoError(e.t, err)
	for _, qs := range st.Queues {
		if qs.Name == "mail" {
			require.Equal(e.t, 3, qs.MaxPending)
			require.Equal(e.t, 2, qs.Pending)
			require.Equal(e.t, 1, qs.Scheduled)
		}
	}
	require.NoError(e.t, e.q.Inspector().SetQueueSettings(e.ctx, "mail", queue.QueueSettings{}))
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

func testMarkProcessed(e *env) {
	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	first, err := e.q.MarkProcessedTx(e.ctx, tx, "payment:order-1")
	require.NoError(e.t, err)
	require.True(e.t, first)
	require.NoError(e.t, tx.Rollback())

	for _, want := range []bool{true, false} {
		tx, err = e.db.BeginTx(e.ctx, nil)
		require.NoError(e.t, err)
		first, err = e.q.MarkProcessedTx(e.ctx, tx, "payment:order-1")
		require.NoError(e.t, err)
		require.Equal(e.t, want, first, "a rolled-back mark does not count; a committed one does")
		require.NoError(e.t, tx.Commit())
	}
	_, err = e.q.MarkProcessedTx(e.ctx, nil, "k")
	require.ErrorIs(e.t, err, queue.ErrInvalidArgument)

	e.clock.Advance(time.Hour)
	_, err = e.store.Prune(e.ctx, queue.PruneParams{ProcessedBefore: e.clock.Now()})
	require.NoError(e.t, err)
	tx, err = e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	defer tx.Rollback()
	first, err = e.q.MarkProcessedTx(e.ctx, tx, "payment:order-1")
	require.NoError(e.t, err)
	require.True(e.t, first, "pruned after its retention")
}

func testCorrelation(e *env) {
	parent := &queue.Job{ID: 1, Metadata: map[string]string{"correlation_id": "c-42", "tenant": "t1"}}
	ctx := queue.ContextWithJob(e.ctx, parent)
	own := map[string]string{"source": "stock"}
	r, err := e.q.Enqueue(ctx, queue.NewJob{Kind: "child", Metadata: own})
	require.NoError(e.t, err)
	require.Equal(e.t, map[string]string{"correlation_id": "c-42", "source": "stock"}, e.get(r.ID).Metadata)
	require.Equal(e.t, map[string]string{"source": "stock"}, own, "the caller's map is not modified")
	r, err = e.q.Enqueue(ctx, queue.NewJob{Kind: "child", Metadata: map[string]string{"correlation_id": "mine"}})
	require.NoError(e.t, err)
	require.Equal(e.t, "mine", e.get(r.ID).Metadata["correlation_id"], "a job's own value wins")
}
