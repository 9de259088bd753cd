package queuetest

import (
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// depsArea: job dependencies (NewJob.DependsOn): children wait for their
// parents, and a failed parent cancels or releases them by their policy.
var depsArea = area{"Deps", []testCase{
	{"FanOutFanIn", testDepsFanOutFanIn},
	{"ParentsEndedInOneSettleBatch", testDepsBatch},
	{"ParentOutputsOutliveDeletedParents", testDepsOutputs},
	{"DeadParentCancelsChildrenInCascade", testDepsCascade},
	{"RunAnywayWaitsForOtherParents", testDepsRunAnyway},
	{"CancelledExpiredDeletedParentsFail", testDepsOtherEnds},
	{"CancelRequestedParentEndsCancelled", testDepsCancelRequested},
	{"ParentsThatAlreadyEnded", testDepsAlreadyEnded},
	{"UnknownParentRefused", testDepsUnknownParent},
	{"ParentAndChildInOneTx", testDepsTx},
	{"ChildKeepsItsRunAt", testDepsRunAt},
	{"ParentsEndingAtOnceReleaseEveryChild", testDepsConcurrent},
	{"ChildRetriedFromDeadWaitsAgain", testDepsRetriedChild},
	{"ChildEnqueuedWhileParentsEnd", testDepsEnqueueRace},
}}

// depStore returns the store as a DependencyStore, skipping the case when
// the backend keeps no dependencies.
func (e *env) depStore() queue.DependencyStore {
	ds, ok := e.store.(queue.DependencyStore)
	if !ok {
		e.t.Skip("backend does not implement queue.DependencyStore")
	}
	return ds
}

// deps returns job id's parents and children.
func (e *env) deps(id int64) *queue.Dependencies {
	e.t.Helper()
	d, err := e.depStore().Dependencies(e.ctx, id)
	require.NoError(e.t, err)
	return d
}

// child enqueues a job of kind "child" in queue "d" waiting for parents.
func (e *env) child(p queue.ParentFailure, parents ...int64) int64 {
	e.t.Helper()
	return e.enqueue(queue.NewJob{Kind: "child", Queue: "d", DependsOn: parents, OnParentFailure: p})
}

// leaseID leases the ready jobs of queue "d" and returns job id among them,
// failing when it is not.
func (e *env) leaseID(id int64) *queue.Job {
	e.t.Helper()
	for _, j := range e.lease("d", 100) {
		if j.ID == id {
			return j
		}
	}
	e.t.Fatalf("job %d was not ready", id)
	return nil
}

func (e *env) requireStates(want map[int64]queue.State) {
	e.t.Helper()
	got := map[int64]queue.State{}
	for id := range want {
		got[id] = e.state(id)
	}
	require.Equal(e.t, want, got)
}

func testDepsFanOutFanIn(e *env) {
	e.depStore()
	validate := e.enqueue(queue.NewJob{Kind: "validate", Queue: "d"})
	reserve := e.child(queue.ParentFailureCancel, validate)
	charge := e.child(queue.ParentFailureCancel, validate)
	ship := e.child(queue.ParentFailureCancel, reserve, charge, reserve)
	e.requireStates(map[int64]queue.State{validate: queue.StatePending, reserve: queue.StateBlocked,
		charge: queue.StateBlocked, ship: queue.StateBlocked})
	st := e.queueStats("d")
	require.Equal(e.t, 3, st.AwaitingParents)
	require.Zero(e.t, st.Blocked, "Blocked counts ordering keys' jobs")

	j := e.leaseOne("d")
	require.Equal(e.t, validate, j.ID, "only the parent is ready")
	e.clock.Advance(time.Minute)
	e.complete(j)
	require.True(e.t, e.get(reserve).RunAt.Equal(e.clock.Now()), "a child is due when its parents ended: its wait counts from then")
	e.requireStates(map[int64]queue.State{reserve: queue.StatePending, charge: queue.StatePending, ship: queue.StateBlocked})
	d := e.deps(validate)
	require.Empty(e.t, d.Parents)
	require.Equal(e.t, []queue.Dependency{{ID: reserve, Kind: "child", State: queue.StatePending},
		{ID: charge, Kind: "child", State: queue.StatePending}}, d.Children, "a gone parent still lists its children")
	require.Equal(e.t, []queue.Dependency{{ID: validate, State: queue.StateCompleted, Gone: true}}, e.deps(reserve).Parents)

	jobs := e.lease("d", 10)
	require.Equal(e.t, []int64{reserve, charge}, sortedIDs(jobs))
	byID := map[int64]*queue.Job{jobs[0].ID: jobs[0], jobs[1].ID: jobs[1]}
	e.complete(byID[reserve])
	require.Equal(e.t, queue.StateBlocked, e.state(ship), "one parent of two ended")
	e.complete(byID[charge])
	require.Equal(e.t, queue.StatePending, e.state(ship))

	d = e.deps(ship)
	require.Len(e.t, d.Parents, 2, "a repeated parent counts once")
	require.Equal(e.t, reserve, d.Parents[0].ID)
	require.Equal(e.t, charge, d.Parents[1].ID)
	for _, p := range d.Parents {
		require.True(e.t, p.Gone, "completed parents were deleted")
		require.Equal(e.t, queue.StateCompleted, p.State)
	}
	require.Empty(e.t, d.Children)
	// A child's relations go with it: validate's children were deleted.
	require.Empty(e.t, e.deps(validate).Children)
	require.Empty(e.t, e.deps(reserve).Parents)
}

func testDepsBatch(e *env) {
	e.depStore()
	var parents []int64
	for range 5 {
		parents = append(parents, e.enqueue(queue.NewJob{Kind: "p", Queue: "d"}))
	}
	all := e.child(queue.ParentFailureCancel, parents...)
	some := e.child(queue.ParentFailureCancel, parents[0], parents[1])
	jobs := e.lease("d", 10)
	require.Len(e.t, jobs, 5)
	var s []queue.Settlement
	for _, j := range jobs {
		s = append(s, settlement(j, queue.OutcomeComplete))
	}
	for _, err := range e.settle(s...) {
		require.NoError(e.t, err)
	}
	e.requireStates(map[int64]queue.State{all: queue.StatePending, some: queue.StatePending})
}

func testDepsOutputs(e *env) {
	e.depStore()
	a := e.enqueue(queue.NewJob{Kind: "p", Queue: "d"})
	b := e.enqueue(queue.NewJob{Kind: "p", Queue: "d"})
	kept := e.enqueue(queue.NewJob{Kind: "p", Queue: "d"})
	c := e.child(queue.ParentFailureCancel, a, b, kept)
	jobs := e.lease("d", 10)
	require.Len(e.t, jobs, 3)
	byID := map[int64]*queue.Job{}
	for _, j := range jobs {
		byID[j.ID] = j
	}
	sa := settlement(byID[a], queue.OutcomeComplete)
	sa.Output = []byte(`{"stock":"reserved"}`)
	sk := settlement(byID[kept], queue.OutcomeComplete)
	sk.Output, sk.Keep = []byte(`[1,2]`), true
	for _, err := range e.settle(sa, settlement(byID[b], queue.OutcomeComplete), sk) {
		require.NoError(e.t, err)
	}
	require.Equal(e.t, queue.StatePending, e.state(c))
	d := e.deps(c)
	require.Len(e.t, d.Parents, 3)
	require.JSONEq(e.t, `{"stock":"reserved"}`, string(d.Parents[0].Output))
	require.True(e.t, d.Parents[0].Gone)
	require.Nil(e.t, d.Parents[1].Output, "no output recorded")
	require.JSONEq(e.t, `[1,2]`, string(d.Parents[2].Output))
	require.Equal(e.t, queue.Dependency{ID: kept, Kind: "p", State: queue.StateCompleted, Output: d.Parents[2].Output}, d.Parents[2])
}

func testDepsCascade(e *env) {
	e.depStore()
	a := e.enqueue(queue.NewJob{Kind: "p", Queue: "d"})
	b := e.child(queue.ParentFailureCancel, a)
	c := e.child(queue.ParentFailureRun, b)
	d := e.child(queue.ParentFailureCancel, b)
	g := e.child(queue.ParentFailureCancel, d)
	e.kill(e.leaseOne("d"))
	e.requireStates(map[int64]queue.State{a: queue.StateDead, b: queue.StateCancelled,
		c: queue.StatePending, d: queue.StateCancelled, g: queue.StateCancelled})
	dd := e.deps(c)
	require.Equal(e.t, []queue.Dependency{{ID: b, Kind: "child", State: queue.StateCancelled}}, dd.Parents)

	// Retrying the dead parent does not hold its children back again.
	e.retry(a)
	require.Equal(e.t, queue.StateCancelled, e.state(b))
	e.complete(e.leaseID(a))
	require.Equal(e.t, queue.StateCancelled, e.state(b))
}

func testDepsRunAnyway(e *env) {
	e.depStore()
	a := e.enqueue(queue.NewJob{Kind: "p", Queue: "d"})
	b := e.enqueue(queue.NewJob{Kind: "p", Queue: "d", Delay: time.Minute})
	c := e.child(queue.ParentFailureRun, a, b)
	e.kill(e.leaseOne("d"))
	require.Equal(e.t, queue.StateBlocked, e.state(c), "b has not ended")
	e.clock.Advance(time.Minute)
	e.complete(e.leaseID(b))
	require.Equal(e.t, queue.StatePending, e.state(c))
	d := e.deps(c)
	require.Equal(e.t, queue.StateDead, d.Parents[0].State)
	require.False(e.t, d.Parents[0].Gone)
}

func testDepsOtherEnds(e *env) {
	e.depStore()
	// Cancelled while waiting.
	a := e.enqueue(queue.NewJob{Kind: "p", Queue: "d", Delay: time.Hour})
	ac := e.child(queue.ParentFailureCancel, a)
	ar := e.child(queue.ParentFailureRun, a)
	require.Equal(e.t, queue.StateCancelled, e.cancel(a))
	e.requireStates(map[int64]queue.State{ac: queue.StateCancelled, ar: queue.StatePending})

	// Deleted before it ran.
	b := e.enqueue(queue.NewJob{Kind: "p", Queue: "d", Delay: time.Hour})
	bc := e.child(queue.ParentFailureCancel, b)
	br := e.child(queue.ParentFailureRun, b)
	e.delete(b)
	e.requireStates(map[int64]queue.State{bc: queue.StateCancelled, br: queue.StatePending})
	d := e.deps(br)
	require.Equal(e.t, []queue.Dependency{{ID: b, Gone: true}}, d.Parents, "deleted before it finished: no state")

	// Expired unstarted (the lease expires it).
	x := e.enqueue(queue.NewJob{Kind: "p", Queue: "x", ExpiresAt: e.clock.Now().Add(time.Minute)})
	xc := e.child(queue.ParentFailureCancel, x)
	e.clock.Advance(2 * time.Minute)
	require.Empty(e.t, e.lease("x", 10))
	e.requireStates(map[int64]queue.State{x: queue.StateDead, xc: queue.StateCancelled})

	// Deleting the dead parent changes nothing more.
	e.delete(x)
	require.Equal(e.t, queue.StateCancelled, e.state(xc))
	// Nor does deleting a cancelled child's parent that had completed.
	require.Equal(e.t, queue.StateBlocked, e.state(e.child(queue.ParentFailureCancel, e.enqueue(queue.NewJob{Kind: "p", Queue: "y", Delay: time.Hour}))))
}

func testDepsCancelRequested(e *env) {
	e.depStore()
	a := e.enqueue(queue.NewJob{Kind: "p", Queue: "d"})
	c := e.child(queue.ParentFailureCancel, a)
	j := e.leaseOne("d")
	require.Equal(e.t, queue.StateRunning, e.cancel(a), "a running job is asked to stop")
	require.Equal(e.t, queue.StateBlocked, e.state(c))
	r := settlement(j, queue.OutcomeRetry)
	r.RunAt = e.clock.Now()
	r.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "stopped"}
	require.NoError(e.t, e.settle(r)[0])
	e.requireStates(map[int64]queue.State{a: queue.StateCancelled, c: queue.StateCancelled})

	// A plain retry does not end the parent.
	b := e.enqueue(queue.NewJob{Kind: "p", Queue: "d"})
	bc := e.child(queue.ParentFailureCancel, b)
	j = e.leaseOne("d")
	r = settlement(j, queue.OutcomeRetry)
	r.RunAt = e.clock.Now()
	r.Error = &queue.AttemptError{Attempt: 1, At: e.clock.Now(), Message: "flaky"}
	require.NoError(e.t, e.settle(r)[0])
	require.Equal(e.t, queue.StateBlocked, e.state(bc))
	e.complete(e.leaseID(b))
	require.Equal(e.t, queue.StatePending, e.state(bc))
}

func testDepsAlreadyEnded(e *env) {
	e.depStore()
	done := e.enqueue(queue.NewJob{Kind: "p", Queue: "d"})
	j := e.leaseOne("d")
	s := settlement(j, queue.OutcomeComplete)
	s.Keep, s.Output = true, []byte(`"ok"`)
	require.NoError(e.t, e.settle(s)[0])
	dead := e.killNew(queue.NewJob{})

	require.Equal(e.t, queue.StatePending, e.state(e.child(queue.ParentFailureCancel, done)), "a kept completed parent")
	require.Equal(e.t, queue.StateCancelled, e.state(e.child(queue.ParentFailureCancel, done, dead)))
	run := e.child(queue.ParentFailureRun, done, dead)
	require.Equal(e.t, queue.StatePending, e.state(run))
	d := e.deps(run)
	require.JSONEq(e.t, `"ok"`, string(d.Parents[0].Output))
	require.Equal(e.t, queue.StateDead, d.Parents[1].State)
}

func testDepsUnknownParent(e *env) {
	e.depStore()
	a := e.enqueue(queue.NewJob{Kind: "p", Queue: "d"})
	_, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "child", Queue: "d", DependsOn: []int64{a, a + 1000}})
	require.ErrorIs(e.t, err, queue.ErrParentNotFound)
	_, err = e.q.EnqueueMany(e.ctx, []queue.NewJob{{Kind: "ok", Queue: "d"}, {Kind: "child", Queue: "d", DependsOn: []int64{a + 1000}}})
	require.ErrorIs(e.t, err, queue.ErrParentNotFound)
	require.Equal(e.t, 1, e.queueStats("d").Pending, "a refused batch inserts nothing")

	var ie *queue.InvalidJobError
	_, err = e.q.Enqueue(e.ctx, queue.NewJob{Kind: "child", DependsOn: []int64{a}, OrderKey: "k"})
	require.ErrorAs(e.t, err, &ie)
	require.Equal(e.t, "DependsOn", ie.Field)
	_, err = e.q.Enqueue(e.ctx, queue.NewJob{Kind: "child", DependsOn: []int64{0}})
	require.ErrorAs(e.t, err, &ie)
	_, err = e.q.Enqueue(e.ctx, queue.NewJob{Kind: "child", DependsOn: []int64{a}, OnParentFailure: 7})
	require.ErrorAs(e.t, err, &ie)
	require.Equal(e.t, "OnParentFailure", ie.Field)
}

func testDepsTx(e *env) {
	e.depStore()
	if e.db == nil {
		e.t.Skip("backend gives no DB handle")
	}
	for _, commit := range []bool{false, true} {
		tx, err := e.db.BeginTx(e.ctx, nil)
		require.NoError(e.t, err)
		p, err := e.q.EnqueueTx(e.ctx, tx, queue.NewJob{Kind: "p", Queue: "tx"})
		require.NoError(e.t, err)
		c, err := e.q.EnqueueTx(e.ctx, tx, queue.NewJob{Kind: "child", Queue: "tx", DependsOn: []int64{p.ID}})
		require.NoError(e.t, err)
		if !commit {
			require.NoError(e.t, tx.Rollback())
			require.Equal(e.t, queue.State(""), e.state(c.ID))
			continue
		}
		require.NoError(e.t, tx.Commit())
		require.Equal(e.t, queue.StateBlocked, e.state(c.ID))
		e.complete(e.leaseOne("tx"))
		require.Equal(e.t, c.ID, e.leaseOne("tx").ID)
	}
}

func testDepsRunAt(e *env) {
	e.depStore()
	a := e.enqueue(queue.NewJob{Kind: "p", Queue: "d"})
	c := e.enqueue(queue.NewJob{Kind: "child", Queue: "d", DependsOn: []int64{a}, Delay: time.Hour})
	e.complete(e.leaseOne("d"))
	require.Equal(e.t, queue.StateScheduled, e.state(c), "ready by its parents, due later")
	e.clock.Advance(time.Hour)
	require.Equal(e.t, c, e.leaseOne("d").ID)
}

// settleApart settles each settlement in its own call, all at once.
func (e *env) settleApart(s []queue.Settlement) {
	e.t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(s))
	for i := range s {
		wg.Go(func() {
			s[i].Now = e.clock.Now()
			res, err := e.store.Settle(e.ctx, nil, s[i:i+1])
			if err == nil {
				err = res[0]
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(e.t, err)
	}
}

func testDepsConcurrent(e *env) {
	e.depStore()
	const n = 20
	var children []int64
	for range n {
		a := e.enqueue(queue.NewJob{Kind: "p", Queue: "d"})
		b := e.enqueue(queue.NewJob{Kind: "p", Queue: "d"})
		children = append(children, e.child(queue.ParentFailureCancel, a, b))
	}
	var s []queue.Settlement
	for _, j := range e.lease("d", 2*n) {
		s = append(s, settlement(j, queue.OutcomeComplete))
	}
	require.Len(e.t, s, 2*n)
	e.settleApart(s)
	for _, c := range children {
		require.Equal(e.t, queue.StatePending, e.state(c), "child %d", c)
	}
}

func testDepsEnqueueRace(e *env) {
	e.depStore()
	const n = 20
	var parents []int64
	for range n {
		parents = append(parents, e.enqueue(queue.NewJob{Kind: "p", Queue: "d"}))
	}
	var s []queue.Settlement
	for _, j := range e.lease("d", n) {
		st := settlement(j, queue.OutcomeComplete)
		st.Keep = true
		s = append(s, st)
	}
	children := make([]int64, n)
	var wg sync.WaitGroup
	wg.Go(func() { e.settleApart(s) })
	for i, p := range parents {
		wg.Go(func() {
			r, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "child", Queue: "c", DependsOn: []int64{p}})
			if err == nil {
				children[i] = r.ID
			}
		})
	}
	wg.Wait()
	for i, c := range children {
		require.NotZero(e.t, c, "child of %d", parents[i])
		require.Equal(e.t, queue.StatePending, e.state(c), "child %d of kept completed parent %d", c, parents[i])
	}
}

func testDepsRetriedChild(e *env) {
	e.depStore()
	a := e.enqueue(queue.NewJob{Kind: "p", Queue: "d"})
	c := e.enqueue(queue.NewJob{Kind: "child", Queue: "x", DependsOn: []int64{a}, ExpiresAt: e.clock.Now().Add(time.Minute)})
	j := e.leaseOne("d")
	e.clock.Advance(2 * time.Minute)
	require.Empty(e.t, e.lease("x", 10))
	require.Equal(e.t, queue.StateDead, e.state(c), "it expired waiting")
	e.retry(c)
	require.Equal(e.t, queue.StateBlocked, e.state(c), "its parent still runs")
	e.complete(j)
	require.Equal(e.t, queue.StatePending, e.state(c))
}
