package queuetest

import (
	"errors"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// deadArea: dead jobs: retry and delete.
var deadArea = area{"Dead", []testCase{
	{"RetryDeadKeepsIDAndHistory", testSettleDeadAndRetryDead},
	{"RetryDeadWaitsForOlderBlocker", testRetryDeadWaitsForOlderBlocker},
	{"RetryDeadSkipsHeldUniqueKeys", testRetryDeadUniqueKeyHeld},
	{"DeleteDeadRemovesOnlyDead", testDeleteDead},
	{"RetryDeadByKindOrAll", testRetryDeadByKindOrAll},
}}

func testSettleDeadAndRetryDead(e *env) {
	id := e.enqueue(queue.NewJob{Kind: "charge", Queue: "payments", Args: map[string]int{"order": 9}, UniqueKey: "charge:9"})
	other := e.enqueue(queue.NewJob{Kind: "refund", Queue: "payments"})
	jobs := e.lease("payments", 2)
	byID := map[int64]*queue.Job{jobs[0].ID: jobs[0], jobs[1].ID: jobs[1]}
	d1 := settlement(byID[id], queue.OutcomeDead)
	d1.Reason = "permanent error: card declined"
	d1.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "card declined"}
	d2 := settlement(byID[other], queue.OutcomeDead)
	d2.Reason = "attempts exhausted"
	require.NoError(e.t, errors.Join(e.settle(d1, d2)...))

	dead := e.get(id)
	require.Equal(e.t, queue.StateDead, dead.State)
	require.Equal(e.t, "permanent error: card declined", dead.DeadReason)
	require.Len(e.t, dead.Errors, 1)
	require.Equal(e.t, "charge:9", dead.UniqueKey)
	require.True(e.t, dead.FinishedAt.Equal(e.clock.Now()))
	require.JSONEq(e.t, `{"order":9}`, string(dead.Payload))
	st, err := e.store.Stats(e.ctx, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, 2, st.Queues[0].Dead)
	require.Equal(e.t, 0, st.Queues[0].Running)

	// The key is free while the job is dead.
	fresh, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "charge", Queue: "payments", UniqueKey: "charge:9"})
	require.NoError(e.t, err)
	require.False(e.t, fresh.Duplicate)
	e.delete(fresh.ID)

	// Retry one: same id, attempts reset, history kept.
	e.clock.Advance(time.Hour)
	e.retry(id)
	back := e.get(id)
	require.Equal(e.t, queue.StatePending, back.State)
	require.Equal(e.t, 0, back.Attempt)
	require.Len(e.t, back.Errors, 1)
	require.True(e.t, back.RunAt.Equal(e.clock.Now()))

	// Retry by filter.
	res, err := e.store.RetryDead(e.ctx, nil, queue.DeadFilter{Queue: "payments", Kind: "nope"}, e.clock.Now())
	require.NoError(e.t, err)
	require.Zero(e.t, res.Retried)
	res, err = e.store.RetryDead(e.ctx, nil, queue.DeadFilter{Queue: "payments"}, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, queue.RetryDeadResult{Retried: 1}, res)
	require.Equal(e.t, queue.StatePending, e.get(other).State)
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
	e.retry(f)
	require.Equal(e.t, queue.StateBlocked, e.get(f).State, "f must not run before h, which holds the key")
	n, err := e.store.DeleteDead(e.ctx, nil, queue.DeadFilter{IDs: []int64{h}}, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n)
	require.Equal(e.t, queue.StatePending, e.get(f).State, "with h gone, f is next")
}

// A dead job whose unique key a live job holds again (a newer delivery of
// the same event, made by a replay) stays dead on a retry, and the caller
// hears which job holds the key: RetryDead retries the other jobs and
// lists the held ones in Skipped, each naming its holder. Nothing is
// skipped silently.
func testRetryDeadUniqueKeyHeld(e *env) {
	a := e.killNew(queue.NewJob{UniqueKey: "charge:1"})
	b := e.killNew(queue.NewJob{UniqueKey: "charge:2"})
	c := e.killNew(queue.NewJob{})
	holder := e.enqueue(queue.NewJob{Kind: "charge", Queue: "r", UniqueKey: "charge:1"}) // the key is free while a is dead

	// One job, in a transaction: skipped, naming the holder.
	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	res, err := e.store.RetryDead(e.ctx, tx, queue.DeadFilter{IDs: []int64{a}}, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, queue.RetryDeadResult{Skipped: []queue.KeyHeldError{{JobID: a, Key: "charge:1", HolderID: holder}}}, res)
	require.NoError(e.t, tx.Rollback())

	// A filter: retry what can be retried, report the rest.
	res, err = e.store.RetryDead(e.ctx, nil, queue.DeadFilter{Queue: "r"}, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, 2, res.Retried)
	require.Equal(e.t, []queue.KeyHeldError{{JobID: a, Key: "charge:1", HolderID: holder}}, res.Skipped)
	require.ErrorIs(e.t, res.Err(), queue.ErrUniqueKeyHeld)
	var held *queue.KeyHeldError
	require.ErrorAs(e.t, res.Err(), &held)
	require.Equal(e.t, a, held.JobID)
	require.Equal(e.t, queue.StateDead, e.get(a).State)
	require.Equal(e.t, queue.StatePending, e.get(b).State)
	require.Equal(e.t, queue.StatePending, e.get(c).State)

	// Once the holder is gone, the job can be retried.
	e.delete(holder)
	e.retry(a)
	require.Equal(e.t, queue.StatePending, e.get(a).State)
	for _, id := range []int64{a, b, c} {
		e.delete(id)
	}

	// Two dead jobs with one key, retried together: the first is retried,
	// and holds the key against the second.
	d1 := e.killNew(queue.NewJob{UniqueKey: "charge:3"})
	d2 := e.killNew(queue.NewJob{UniqueKey: "charge:3"})
	res, err = e.store.RetryDead(e.ctx, nil, queue.DeadFilter{IDs: []int64{d2, d1}}, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, queue.RetryDeadResult{Retried: 1, Skipped: []queue.KeyHeldError{{JobID: d2, Key: "charge:3", HolderID: d1}}}, res)
	require.Equal(e.t, queue.StatePending, e.get(d1).State)
	require.Equal(e.t, queue.StateDead, e.get(d2).State)

	// Nothing skipped: Skipped is empty and Err is nil.
	res, err = e.store.RetryDead(e.ctx, nil, queue.DeadFilter{Kind: "nope"}, e.clock.Now())
	require.NoError(e.t, err)
	require.Zero(e.t, res.Retried)
	require.Empty(e.t, res.Skipped)
	require.NoError(e.t, res.Err())
	require.False(e.t, errors.Is(res.Err(), queue.ErrUniqueKeyHeld))
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

	// A job retried meanwhile is live and stays; a live ID is ignored.
	e.retry(a1)
	n, err := e.store.DeleteDead(e.ctx, nil, queue.DeadFilter{IDs: []int64{a1, live, 999999}}, e.clock.Now())
	require.NoError(e.t, err)
	require.Zero(e.t, n)
	require.Equal(e.t, queue.StatePending, e.get(a1).State)
	require.Equal(e.t, queue.StatePending, e.get(live).State)

	n, err = e.store.DeleteDead(e.ctx, nil, queue.DeadFilter{Queue: "a", Kind: "y"}, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n)
	_, err = e.store.Get(e.ctx, a2)
	require.ErrorIs(e.t, err, queue.ErrNotFound)
	require.Equal(e.t, queue.StateDead, e.get(b1).State, "other queues keep theirs")

	n, err = e.store.DeleteDead(e.ctx, nil, queue.DeadFilter{IDs: []int64{keyed}}, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n)
	require.Equal(e.t, queue.StatePending, e.get(next).State, "the key moved on")

	n, err = e.store.DeleteDead(e.ctx, nil, queue.DeadFilter{All: true}, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n, "b1, the last dead job")
	dead, err := e.store.List(e.ctx, queue.ListFilter{State: queue.StateDead})
	require.NoError(e.t, err)
	require.Empty(e.t, dead)
}

// RetryDead selects by kind within a queue, or every dead job with All;
// the jobs it leaves are still dead.
func testRetryDeadByKindOrAll(e *env) {
	x1 := e.deadIn("a")
	y := e.enqueue(queue.NewJob{Kind: "other", Queue: "a"})
	e.kill(e.leaseOne("a"))
	x2 := e.deadIn("b")
	res, err := e.store.RetryDead(e.ctx, nil, queue.DeadFilter{Queue: "a", Kind: "k"}, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, queue.RetryDeadResult{Retried: 1}, res)
	require.Equal(e.t, queue.StatePending, e.state(x1))
	require.Equal(e.t, queue.StateDead, e.state(y))
	require.Equal(e.t, queue.StateDead, e.state(x2))
	res, err = e.store.RetryDead(e.ctx, nil, queue.DeadFilter{All: true}, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, queue.RetryDeadResult{Retried: 2}, res)
	require.Equal(e.t, queue.StatePending, e.state(y))
	require.Equal(e.t, queue.StatePending, e.state(x2))
}
