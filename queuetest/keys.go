package queuetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// orderKeyArea: ordering keys: one head per key, promotion.
var orderKeyArea = area{"OrderKey", []testCase{
	{"NextRunsAfterHolderCompletes", testKeyNextAfterComplete},
	{"NextRunsAfterHolderCancelled", testKeyNextAfterCancel},
	{"NextRunsAfterHolderDeleted", testKeyNextAfterDelete},
	{"NextRunsAfterHolderDiesWithDeadSkipsKey", testKeyNextAfterDeathWhenSkipping},
	{"NextStaysBlockedWhenHolderDies", testKeyBlockedAfterDeath},
	{"HolderKeepsKeyThroughRetrySnoozeRelease", testKeyKeptThroughRetry},
	{"OneHeadPerKeyWhateverPriority", testOrderKeys},
	{"DeadSkipsKeyReleasesHeldKeys", testOrderKeysDeadSkips},
	{"CancelAndDeleteOfFollowersAndHeads", testOrderKeysCancelAndDelete},
	{"CancelRequestedHeadFreesKey", testCancelRequestedHeadFreesKey},
	{"KeysOfOneSettleMoveOnTogether", testKeysOfOneSettle},
	{"RandomOpsKeepOneHeadAndNoStuckKey", testKeysRandomOps},
	{"SettlementFreesKeyOnlyWhenItEndsTheHead", testKeyFreedBySettle},
}}

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
	st, err := e.store.Stats(e.ctx, e.clock.Now())
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
	st, err = e.store.Stats(e.ctx, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, 1, st.Queues[0].StuckKeys)
	late := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "order:1"})
	require.Equal(e.t, queue.StateBlocked, e.get(late).State, "a stuck key holds new jobs back too")

	// Retrying the dead job makes it the head again, ahead of a3.
	e.retry(a2)
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
	e.settings("sync", queue.QueueSettings{DeadSkipsKey: true})
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
	e.settings("held", queue.QueueSettings{DeadSkipsKey: true})
	require.Equal(e.t, queue.StatePending, e.get(b2).State)
}

func testOrderKeysCancelAndDelete(e *env) {
	a1 := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "o"})
	a2 := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "o"})
	a3 := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "o"})
	a4 := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "o", Delay: time.Hour})
	_, err := e.store.Cancel(e.ctx, nil, a2, e.clock.Now()) // a follower: nothing moves
	require.NoError(e.t, err)
	require.Equal(e.t, queue.StatePending, e.get(a1).State)
	require.Equal(e.t, queue.StateBlocked, e.get(a3).State)
	_, err = e.store.Cancel(e.ctx, nil, a1, e.clock.Now()) // the head: a3 is next
	require.NoError(e.t, err)
	require.Equal(e.t, queue.StatePending, e.get(a3).State)
	e.delete(a3)
	require.Equal(e.t, queue.StateScheduled, e.get(a4).State, "the next head keeps its own run time")
	// A dead head deleted by an operator releases the key.
	e.clock.Advance(time.Hour)
	j := e.leaseOne(queue.DefaultQueue)
	require.Equal(e.t, a4, j.ID)
	a5 := e.enqueue(queue.NewJob{Kind: "k", OrderKey: "o"})
	e.kill(j)
	require.Equal(e.t, queue.StateBlocked, e.get(a5).State)
	e.delete(a4)
	require.Equal(e.t, queue.StatePending, e.get(a5).State)
}

// A running head whose cancel was requested ends cancelled when it settles
// with retry, snooze or release: its key moves on then too.
func testCancelRequestedHeadFreesKey(e *env) {
	for _, o := range []queue.Outcome{queue.OutcomeRetry, queue.OutcomeSnooze, queue.OutcomeRelease} {
		key := "k:" + o.String()
		head := e.enqueue(queue.NewJob{Kind: "k", Queue: "c", OrderKey: key})
		next := e.enqueue(queue.NewJob{Kind: "k", Queue: "c", OrderKey: key})
		j := e.leaseOne("c")
		require.Equal(e.t, head, j.ID)
		st, err := e.store.Cancel(e.ctx, nil, head, e.clock.Now())
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

// When the job holding a key completes, the oldest blocked job of the key
// becomes ready; the ones after it stay blocked.
func testKeyNextAfterComplete(e *env) {
	head, f := e.keyed("o", "x", 2)
	require.Equal(e.t, []queue.State{queue.StateBlocked, queue.StateBlocked}, []queue.State{e.state(f[0]), e.state(f[1])})
	j := e.leaseOne("o")
	require.Equal(e.t, head, j.ID)
	require.Empty(e.t, e.lease("o", 10), "a key has one head at a time")
	e.complete(j)
	require.Equal(e.t, queue.StatePending, e.state(f[0]))
	require.Equal(e.t, queue.StateBlocked, e.state(f[1]))
	next := e.lease("o", 10)
	require.Equal(e.t, []int64{f[0]}, ids(next))

	// A kept completion frees the key the same way.
	s := settlement(next[0], queue.OutcomeComplete)
	s.OrderKey, s.Keep = "x", true
	require.NoError(e.t, e.settle(s)[0])
	require.Equal(e.t, queue.StatePending, e.state(f[1]))
}

// When the job holding a key is cancelled (waiting, or running and settled
// with the cancel outcome), the next job of the key becomes ready.
func testKeyNextAfterCancel(e *env) {
	head, f := e.keyed("o", "x", 2)
	require.Equal(e.t, queue.StateCancelled, e.cancel(head))
	require.Equal(e.t, queue.StatePending, e.state(f[0]))
	j := e.leaseOne("o")
	require.Equal(e.t, f[0], j.ID)
	s := settlement(j, queue.OutcomeCancel)
	s.OrderKey = "x"
	require.NoError(e.t, e.settle(s)[0])
	require.Equal(e.t, queue.StateCancelled, e.state(f[0]))
	require.Equal(e.t, queue.StatePending, e.state(f[1]))
}

// When the job holding a key is deleted, waiting or dead, the next job of
// the key becomes ready.
func testKeyNextAfterDelete(e *env) {
	head, f := e.keyed("o", "x", 2)
	e.delete(head)
	require.Equal(e.t, queue.StatePending, e.state(f[0]))
	e.kill(e.leaseOne("o"))
	require.Equal(e.t, queue.StateBlocked, e.state(f[1]))
	e.delete(f[0])
	require.Equal(e.t, queue.StatePending, e.state(f[1]))
}

// In a queue with DeadSkipsKey, a holder that dies lets the next job of its
// key run.
func testKeyNextAfterDeathWhenSkipping(e *env) {
	e.settings("o", queue.QueueSettings{DeadSkipsKey: true})
	_, f := e.keyed("o", "x", 1)
	e.kill(e.leaseOne("o"))
	require.Equal(e.t, queue.StatePending, e.state(f[0]))
	require.Zero(e.t, e.queueStats("o").StuckKeys)
}

// By default a holder that dies keeps its key: the next job stays blocked,
// also behind new jobs of the key and after other keys move on, and Stats
// counts the key as stuck.
func testKeyBlockedAfterDeath(e *env) {
	_, f := e.keyed("o", "x", 1)
	e.clock.Advance(time.Second)
	other, _ := e.keyed("o", "y", 0)
	j := e.leaseOne("o")
	require.NotEqual(e.t, other, j.ID, "the older key's head first")
	e.kill(j)
	require.Equal(e.t, queue.StateBlocked, e.state(f[0]))
	late := e.enqueue(queue.NewJob{Kind: "k", Queue: "o", OrderKey: "x"})
	require.Equal(e.t, queue.StateBlocked, e.state(late))
	require.Equal(e.t, []int64{other}, ids(e.lease("o", 10)))
	qs := e.queueStats("o")
	require.Equal(e.t, 1, qs.StuckKeys)
	require.Equal(e.t, 2, qs.Blocked)
	require.Equal(e.t, 1, qs.BlockedKeys)
}

// A holder that is retried, snoozed or released keeps its key: it stays the
// head and runs again before the next job of the key.
func testKeyKeptThroughRetry(e *env) {
	head, f := e.keyed("o", "x", 1)
	for _, o := range []queue.Outcome{queue.OutcomeRetry, queue.OutcomeSnooze, queue.OutcomeRelease} {
		j := e.leaseOne("o")
		require.Equal(e.t, head, j.ID, "after %v", o)
		s := settlement(j, o)
		s.OrderKey, s.RunAt = "x", e.clock.Now().Add(time.Minute)
		s.Error = &queue.AttemptError{Attempt: j.Attempt, At: e.clock.Now(), Message: "again"}
		require.NoError(e.t, e.settle(s)[0])
		want := queue.StateScheduled
		if o == queue.OutcomeRelease {
			want = queue.StatePending // at once, whatever RunAt
		}
		require.Equal(e.t, want, e.state(head), "after %v", o)
		require.Equal(e.t, queue.StateBlocked, e.state(f[0]), "%v keeps the key", o)
		e.clock.Advance(time.Minute)
	}
	e.complete(e.leaseOne("o"))
	require.Equal(e.t, []int64{f[0]}, ids(e.lease("o", 10)))
}

// One Settle call of several keys' heads, in two queues, moves each key on
// as if its settlement came alone: a completed head (deleted or kept)
// gives its key's oldest blocked job, due now (pending) or later
// (scheduled); a retried head keeps its key; a settlement whose lease was
// lost moves nothing; a key's name in another queue is another key.
func testKeysOfOneSettle(e *env) {
	_, a := e.keyed("o", "a", 2)
	_, b := e.keyed("o", "b", 1)
	_, c := e.keyed("o", "c", 1)
	e.enqueue(queue.NewJob{Kind: "k", Queue: "o", OrderKey: "d"})
	d := e.enqueue(queue.NewJob{Kind: "k", Queue: "o", OrderKey: "d", RunAt: e.clock.Now().Add(time.Hour)})
	_, lost := e.keyed("o", "e", 1)
	_, p := e.keyed("p", "a", 1)
	heads := map[string]*queue.Job{}
	for _, j := range append(e.lease("o", 10), e.lease("p", 10)...) {
		heads[j.Queue+"/"+j.OrderKey] = j
	}
	require.Len(e.t, heads, 6, "one head per key")
	var batch []queue.Settlement
	for _, name := range []string{"o/a", "o/b", "o/c", "o/d", "o/e", "p/a"} {
		j := heads[name]
		s := settlement(j, queue.OutcomeComplete)
		s.OrderKey = j.OrderKey
		switch name {
		case "o/b":
			s.Outcome, s.RunAt = queue.OutcomeRetry, e.clock.Now().Add(time.Minute)
			s.Error = &queue.AttemptError{Attempt: j.Attempt, At: e.clock.Now(), Message: "again"}
		case "o/c":
			s.Keep = true
		case "o/e":
			s.Token++ // not this lease
		}
		batch = append(batch, s)
	}
	errs := e.settle(batch...)
	for i, err := range errs {
		if batch[i].OrderKey == "e" {
			require.ErrorIs(e.t, err, queue.ErrLeaseLost)
		} else {
			require.NoError(e.t, err, "settlement %d", i)
		}
	}
	require.Equal(e.t, []queue.State{queue.StatePending, queue.StateBlocked}, []queue.State{e.state(a[0]), e.state(a[1])})
	require.Equal(e.t, queue.StateBlocked, e.state(b[0]), "a retried head keeps its key")
	require.Equal(e.t, queue.StatePending, e.state(c[0]))
	require.Equal(e.t, queue.StateScheduled, e.state(d), "the next job is due later")
	require.Equal(e.t, queue.StateBlocked, e.state(lost[0]), "the head whose lease was lost still runs")
	require.Equal(e.t, queue.StatePending, e.state(p[0]))
	require.Equal(e.t, []int64{a[0], c[0]}, sortedIDs(e.lease("o", 10)))
	require.Equal(e.t, []int64{p[0]}, ids(e.lease("p", 10)))
}

// A completion, cancel or death of a running job frees its key without a
// look for another head (only a key's head is ever leased): the cases
// around that shortcut. A dead job retried behind a running head (in a
// queue whose keys move past dead jobs) runs after it and before the
// later jobs; a stale completion of a head that was rescued and leased
// again frees nothing; a rescuer's death of an expired head frees the
// key; and a call with a stale completion and a valid retry of one head
// leaves the key held.
func testKeyFreedBySettle(e *env) {
	e.settings("fs", queue.QueueSettings{DeadSkipsKey: true})
	a := e.enqueue(queue.NewJob{Kind: "k", Queue: "fs", OrderKey: "x"})
	b := e.enqueue(queue.NewJob{Kind: "k", Queue: "fs", OrderKey: "x"})
	c := e.enqueue(queue.NewJob{Kind: "k", Queue: "fs", OrderKey: "x"})
	e.kill(e.leaseOne("fs"))
	require.Equal(e.t, queue.StatePending, e.state(b))
	jb := e.leaseOne("fs")
	require.Equal(e.t, b, jb.ID)
	e.retry(a)
	require.Equal(e.t, queue.StateBlocked, e.state(a), "a retried dead job waits behind the running head")
	e.complete(jb)
	require.Equal(e.t, queue.StatePending, e.state(a), "the retried job is next, by id")
	require.Equal(e.t, queue.StateBlocked, e.state(c))

	// a's lease runs out; a rescuer retries it and another lease takes
	// it. The first worker's completion comes late.
	ja := e.leaseOne("fs")
	e.clock.Advance(time.Minute)
	rescue := settlement(ja, queue.OutcomeRetry)
	rescue.OrderKey, rescue.RunAt, rescue.IfExpired = "x", e.clock.Now(), true
	rescue.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "lease expired"}
	require.NoError(e.t, e.settle(rescue)[0])
	ja2 := e.leaseOne("fs")
	require.Equal(e.t, a, ja2.ID)
	stale := settlement(ja, queue.OutcomeComplete)
	stale.OrderKey = "x"
	require.ErrorIs(e.t, e.settle(stale)[0], queue.ErrLeaseLost)
	require.Equal(e.t, queue.StateBlocked, e.state(c), "a stale completion frees nothing")
	require.Empty(e.t, e.lease("fs", 10))

	// The second lease runs out too, and the rescuer gives up on it.
	e.clock.Advance(time.Minute)
	dead := settlement(ja2, queue.OutcomeDead)
	dead.OrderKey, dead.IfExpired, dead.Reason = "x", true, "lease expired"
	require.NoError(e.t, e.settle(dead)[0])
	require.Equal(e.t, queue.StatePending, e.state(c))

	// One call: a completion under a wrong token, then the head's retry.
	jc := e.leaseOne("fs")
	require.Equal(e.t, c, jc.ID)
	d := e.enqueue(queue.NewJob{Kind: "k", Queue: "fs", OrderKey: "x"})
	bad := settlement(jc, queue.OutcomeComplete)
	bad.OrderKey, bad.Token = "x", jc.LeaseToken+1
	r := settlement(jc, queue.OutcomeRetry)
	r.OrderKey, r.RunAt = "x", e.clock.Now()
	r.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "flaky"}
	errs := e.settle(bad, r)
	require.ErrorIs(e.t, errs[0], queue.ErrLeaseLost)
	require.NoError(e.t, errs[1])
	require.Equal(e.t, queue.StatePending, e.state(c))
	require.Equal(e.t, queue.StateBlocked, e.state(d), "the key's head stays")
	require.Equal(e.t, []int64{c}, ids(e.lease("fs", 10)))
}
