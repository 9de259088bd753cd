package queuetest

import (
	"errors"
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// uniqueArea: unique options beyond the live key: periods (UniqueFor),
// finished states (UniqueStates), keys derived from the arguments
// (UniqueByArgs), and the pruning of ended periods and old dead jobs.
var uniqueArea = area{"Unique", []testCase{
	{"PeriodOutlivesDeletedJob", testUniquePeriod},
	{"PeriodIsTheNewJobsOption", testUniquePeriodOwnOption},
	{"StatesCompletedCancelledDead", testUniqueStates},
	{"ByArgsCanonicalJSON", testUniqueByArgs},
	{"InvalidCombinationsRefused", testUniqueInvalid},
	{"DuplicatesInsideOneBatch", testUniqueBatch},
	{"TxTwinRollsBackThePeriod", testUniqueTx},
	{"RacingEnqueuersInsertOne", testUniqueRace},
	{"RacingEnqueuersWhileJobsComplete", testUniqueRaceWithWorker},
	{"RetryDeadWhileKeyHeld", testUniqueRetryDead},
	{"DuplicateByPeriodAcceptedWhenFull", testUniquePeriodWhenFull},
	{"PruneEndsPeriodsAndOldDeadJobs", testUniquePrune},
}}

// enqueueRes enqueues j and returns the result, duplicate or not.
func (e *env) enqueueRes(j queue.NewJob) queue.EnqueueResult {
	e.t.Helper()
	r, err := e.q.Enqueue(e.ctx, j)
	require.NoError(e.t, err)
	return r
}

// A period holds the key after its job completed and was deleted, until
// it ends; then the key is free, and a new job starts a new period.
func testUniquePeriod(e *env) {
	job := queue.NewJob{Kind: "report", UniqueKey: "report:daily", UniqueFor: time.Hour}
	first := e.enqueue(job)
	e.clock.Advance(time.Minute)
	e.complete(e.leaseOne(queue.DefaultQueue)) // deleted at once
	require.Equal(e.t, queue.State(""), e.state(first))

	e.clock.Advance(58 * time.Minute)
	require.Equal(e.t, queue.EnqueueResult{ID: first, Duplicate: true}, e.enqueueRes(job), "within the period, the deleted job holds the key")

	e.clock.Advance(time.Minute) // the period ends an hour after the first enqueue
	second := e.enqueueRes(job)
	require.False(e.t, second.Duplicate, "the period ended")
	require.Greater(e.t, second.ID, first)

	// The new job holds the key live and for a new period from now.
	require.Equal(e.t, queue.EnqueueResult{ID: second.ID, Duplicate: true}, e.enqueueRes(job))
	_, err := e.store.Cancel(e.ctx, nil, second.ID, e.clock.Now())
	require.NoError(e.t, err)
	e.clock.Advance(59 * time.Minute)
	require.Equal(e.t, queue.EnqueueResult{ID: second.ID, Duplicate: true}, e.enqueueRes(job), "a cancelled job holds its period too")
	e.clock.Advance(time.Minute)
	require.False(e.t, e.enqueueRes(job).Duplicate)
}

// The options are the enqueuing job's: a job without UniqueFor is held
// back only by live jobs, whatever period an earlier job started.
func testUniquePeriodOwnOption(e *env) {
	first := e.enqueue(queue.NewJob{Kind: "k", UniqueKey: "u", UniqueFor: time.Hour})
	e.complete(e.leaseOne(queue.DefaultQueue))
	plain := e.enqueueRes(queue.NewJob{Kind: "k", UniqueKey: "u"})
	require.False(e.t, plain.Duplicate, "no UniqueFor: the period does not apply")
	// A live holder is named before the period's job.
	require.Equal(e.t, queue.EnqueueResult{ID: plain.ID, Duplicate: true},
		e.enqueueRes(queue.NewJob{Kind: "k", UniqueKey: "u", UniqueFor: time.Hour}))
	e.complete(e.leaseOne(queue.DefaultQueue))
	require.Equal(e.t, queue.EnqueueResult{ID: first, Duplicate: true},
		e.enqueueRes(queue.NewJob{Kind: "k", UniqueKey: "u", UniqueFor: time.Minute}),
		"the running period is the first job's, whatever the new job's length")
}

// Finished states hold the key while a job in them exists, only for a
// job that lists them.
func testUniqueStates(e *env) {
	all := []queue.State{queue.StatePending, queue.StateScheduled, queue.StateBlocked, queue.StateRunning,
		queue.StateCompleted, queue.StateCancelled, queue.StateDead}
	withCompleted := all[:5]

	// Completed, kept for inspection.
	done := e.enqueue(queue.NewJob{Kind: "k", UniqueKey: "c"})
	s := settlement(e.leaseOne(queue.DefaultQueue), queue.OutcomeComplete)
	s.Keep = true
	require.NoError(e.t, e.settle(s)[0])
	require.Equal(e.t, queue.EnqueueResult{ID: done, Duplicate: true},
		e.enqueueRes(queue.NewJob{Kind: "k", UniqueKey: "c", UniqueStates: withCompleted}))
	require.Equal(e.t, queue.EnqueueResult{ID: done, Duplicate: true},
		e.enqueueRes(queue.NewJob{Kind: "k", UniqueKey: "c", UniqueStates: all}))
	free := e.enqueueRes(queue.NewJob{Kind: "k", UniqueKey: "c"})
	require.False(e.t, free.Duplicate, "the default states leave a completed job's key free")
	// Now a live job holds it: it is named, not the completed one.
	require.Equal(e.t, queue.EnqueueResult{ID: free.ID, Duplicate: true},
		e.enqueueRes(queue.NewJob{Kind: "k", UniqueKey: "c", UniqueStates: all}))
	e.delete(free.ID)
	// Once the completed job is gone (pruned), the key is free.
	e.delete(done)
	require.False(e.t, e.enqueueRes(queue.NewJob{Kind: "k", UniqueKey: "c", UniqueStates: withCompleted}).Duplicate)

	// Cancelled: held only when listed.
	cancelled := e.enqueue(queue.NewJob{Kind: "k", Queue: "x", UniqueKey: "x"})
	require.Equal(e.t, queue.StateCancelled, e.cancel(cancelled))
	require.False(e.t, e.enqueueRes(queue.NewJob{Kind: "k", Queue: "y", UniqueKey: "x", UniqueStates: withCompleted, Delay: time.Hour}).Duplicate,
		"completed listed, cancelled not")
	e.delete(e.onlyJobIn("y"))
	require.Equal(e.t, queue.EnqueueResult{ID: cancelled, Duplicate: true},
		e.enqueueRes(queue.NewJob{Kind: "k", UniqueKey: "x", UniqueStates: all}))

	// Dead: held only when listed, until the dead job is deleted.
	dead := e.killNew(queue.NewJob{UniqueKey: "d"})
	require.Equal(e.t, queue.EnqueueResult{ID: dead, Duplicate: true},
		e.enqueueRes(queue.NewJob{Kind: "k", UniqueKey: "d", UniqueStates: all}))
	require.False(e.t, e.enqueueRes(queue.NewJob{Kind: "k", Queue: "z", UniqueKey: "d", UniqueStates: withCompleted}).Duplicate)
}

// onlyJobIn returns the ID of the one job in queue name.
func (e *env) onlyJobIn(name string) int64 {
	e.t.Helper()
	jobs, err := e.store.List(e.ctx, queue.ListFilter{Queue: name, Limit: 10})
	require.NoError(e.t, err)
	require.Len(e.t, jobs, 1)
	return jobs[0].ID
}

// UniqueByArgs derives the key from queue, kind and the canonical JSON of
// the payload.
func testUniqueByArgs(e *env) {
	first := e.enqueueRes(queue.NewJob{Kind: "email.receipt", Payload: []byte(`{"order": 42, "to": "a@example.com"}`), UniqueByArgs: true})
	require.False(e.t, first.Duplicate)
	key := e.get(first.ID).UniqueKey
	require.Equal(e.t, queue.ArgsKey("email.receipt", queue.DefaultQueue, []byte(`{"to":"a@example.com","order":42}`)), key)
	require.Regexp(e.t, `^args:email\.receipt@default:[0-9a-f]{64}$`, key)

	dup := e.enqueueRes(queue.NewJob{Kind: "email.receipt", Payload: []byte("{\"to\":\"a@example.com\",\n \"order\":42}"), UniqueByArgs: true})
	require.Equal(e.t, queue.EnqueueResult{ID: first.ID, Duplicate: true}, dup, "equal JSON, keys in another order")
	dup = e.enqueueRes(queue.NewJob{Kind: "email.receipt", Args: map[string]any{"to": "a@example.com", "order": 42}, UniqueByArgs: true})
	require.Equal(e.t, queue.EnqueueResult{ID: first.ID, Duplicate: true}, dup, "Args encode to the same JSON")

	for _, other := range []queue.NewJob{
		{Kind: "email.receipt", Payload: []byte(`{"order": 43, "to": "a@example.com"}`), UniqueByArgs: true},
		{Kind: "email.receipt", Queue: "mail", Payload: []byte(`{"order": 42, "to": "a@example.com"}`), UniqueByArgs: true},
		{Kind: "email.invoice", Payload: []byte(`{"order": 42, "to": "a@example.com"}`), UniqueByArgs: true},
		{Kind: "email.receipt", Payload: []byte(`{"order": 42, "to": "a@example.com"}`)}, // no key at all
	} {
		require.False(e.t, e.enqueueRes(other).Duplicate, "%+v", other)
	}

	// Payloads that are not JSON compare byte for byte.
	raw := e.enqueueRes(queue.NewJob{Kind: "blob", Payload: []byte{0xff, 0x00, 'a'}, UniqueByArgs: true})
	require.Equal(e.t, queue.EnqueueResult{ID: raw.ID, Duplicate: true}, e.enqueueRes(queue.NewJob{Kind: "blob", Payload: []byte{0xff, 0x00, 'a'}, UniqueByArgs: true}))
	require.False(e.t, e.enqueueRes(queue.NewJob{Kind: "blob", Payload: []byte{0xff, 0x00, 'b'}, UniqueByArgs: true}).Duplicate)

	// With a period: the arguments hold the key after the job completed.
	args := queue.NewJob{Kind: "sync", Queue: "p", Args: map[string]int{"sku": 9}, UniqueByArgs: true, UniqueFor: time.Hour}
	synced := e.enqueue(args)
	e.complete(e.leaseOne("p"))
	require.Equal(e.t, queue.EnqueueResult{ID: synced, Duplicate: true}, e.enqueueRes(args))
}

// Options that cannot hold are refused with the field named.
func testUniqueInvalid(e *env) {
	for _, c := range []struct {
		job   queue.NewJob
		field string
	}{
		{queue.NewJob{Kind: "k", UniqueFor: time.Hour}, "UniqueFor"},
		{queue.NewJob{Kind: "k", UniqueKey: "u", UniqueFor: -time.Second}, "UniqueFor"},
		{queue.NewJob{Kind: "k", UniqueStates: []queue.State{queue.StatePending}}, "UniqueStates"},
		{queue.NewJob{Kind: "k", UniqueKey: "u", UniqueStates: []queue.State{queue.StatePending, queue.StateCompleted}}, "UniqueStates"},
		{queue.NewJob{Kind: "k", UniqueKey: "u", UniqueStates: []queue.State{queue.StatePending, queue.StateScheduled,
			queue.StateBlocked, queue.StateRunning, "finished"}}, "UniqueStates"},
		{queue.NewJob{Kind: "k", UniqueKey: "u", UniqueByArgs: true}, "UniqueByArgs"},
	} {
		_, err := e.q.Enqueue(e.ctx, c.job)
		var ie *queue.InvalidJobError
		require.ErrorAs(e.t, err, &ie, "%+v", c.job)
		require.Equal(e.t, c.field, ie.Field, "%v", err)
		require.ErrorIs(e.t, err, queue.ErrInvalidJob)
	}
	st := e.queueStats(queue.DefaultQueue)
	require.Zero(e.t, st.Pending, "nothing was inserted")
}

// EnqueueMany sees the jobs it inserted before: a later job of the batch
// with the same key is a duplicate of the earlier one.
func testUniqueBatch(e *env) {
	res, err := e.q.EnqueueMany(e.ctx, []queue.NewJob{
		{Kind: "k", UniqueKey: "p", UniqueFor: time.Hour},
		{Kind: "k", Args: 1, UniqueByArgs: true},
		{Kind: "k", UniqueKey: "p", UniqueFor: time.Hour},
		{Kind: "k", Args: 1, UniqueByArgs: true, UniqueFor: time.Hour},
		{Kind: "k", Args: 2, UniqueByArgs: true},
	})
	require.NoError(e.t, err)
	require.False(e.t, res[0].Duplicate)
	require.False(e.t, res[1].Duplicate)
	require.Equal(e.t, queue.EnqueueResult{ID: res[0].ID, Duplicate: true}, res[2])
	require.Equal(e.t, queue.EnqueueResult{ID: res[1].ID, Duplicate: true}, res[3])
	require.False(e.t, res[4].Duplicate)
	require.Equal(e.t, 3, e.queueStats(queue.DefaultQueue).Pending)
}

// EnqueueTx starts the period inside the caller's transaction: a rollback
// leaves the key free, a commit holds it.
func testUniqueTx(e *env) {
	if e.db == nil {
		e.t.Skip("the backend gives no *sql.DB")
	}
	job := queue.NewJob{Kind: "k", UniqueKey: "tx", UniqueFor: time.Hour}
	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	r, err := e.q.EnqueueTx(e.ctx, tx, job)
	require.NoError(e.t, err)
	require.False(e.t, r.Duplicate)
	again, err := e.q.EnqueueTx(e.ctx, tx, job)
	require.NoError(e.t, err)
	require.Equal(e.t, queue.EnqueueResult{ID: r.ID, Duplicate: true}, again, "the transaction sees its own job")
	require.NoError(e.t, tx.Rollback())

	tx, err = e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	r, err = e.q.EnqueueTx(e.ctx, tx, job)
	require.NoError(e.t, err)
	require.False(e.t, r.Duplicate, "the rolled back period holds nothing")
	require.NoError(e.t, tx.Commit())
	e.complete(e.leaseOne(queue.DefaultQueue))
	require.Equal(e.t, queue.EnqueueResult{ID: r.ID, Duplicate: true}, e.enqueueRes(job), "the committed period holds the key")
}

// Enqueuers racing with one key insert exactly one job, and the others
// name it; so too when the key is held by a period or a finished job.
func testUniqueRace(e *env) {
	race := func(job queue.NewJob) []queue.EnqueueResult {
		const n = 8
		res := make([]queue.EnqueueResult, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res[i], errs[i] = e.q.Enqueue(e.ctx, job)
			}()
		}
		close(start)
		wg.Wait()
		require.NoError(e.t, errors.Join(errs...))
		return res
	}
	inserted := func(res []queue.EnqueueResult) (id int64, n int) {
		for _, r := range res {
			if !r.Duplicate {
				id, n = r.ID, n+1
			}
		}
		return id, n
	}
	all := []queue.State{queue.StatePending, queue.StateScheduled, queue.StateBlocked, queue.StateRunning, queue.StateCompleted}
	for _, job := range []queue.NewJob{
		{Kind: "k", Queue: "a", UniqueKey: "race:period", UniqueFor: time.Hour},
		{Kind: "k", Queue: "b", UniqueKey: "race:states", UniqueStates: all},
		{Kind: "k", Queue: "c", Args: map[string]int{"n": 1}, UniqueByArgs: true, UniqueFor: time.Hour},
	} {
		res := race(job)
		id, n := inserted(res)
		require.Equal(e.t, 1, n, "exactly one of the racing enqueues inserts (%s)", job.Queue)
		for _, r := range res {
			require.Equal(e.t, id, r.ID)
		}
		// The job finishes (kept, for the states case): the key stays held.
		s := settlement(e.leaseOne(job.Queue), queue.OutcomeComplete)
		s.Keep = job.UniqueFor == 0
		require.NoError(e.t, e.settle(s)[0])
		res = race(job)
		_, n = inserted(res)
		require.Zero(e.t, n, "the finished job holds the key (%s)", job.Queue)
		for _, r := range res {
			require.Equal(e.t, queue.EnqueueResult{ID: id, Duplicate: true}, r)
		}
	}
}

// Enqueuers racing with one period's key while a worker completes (and
// deletes) whatever it leases: the period admits one job in all, even when
// it completes between another enqueue's read of the key and its insert.
func testUniqueRaceWithWorker(e *env) {
	const enqueuers, tries = 4, 25
	job := queue.NewJob{Kind: "k", Queue: "w", UniqueKey: "race:worker", UniqueFor: time.Hour}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		inserted []int64
		errs     []error
	)
	done := make(chan struct{})
	workerDone := make(chan error, 1)
	go func() {
		var err error
		for err == nil {
			select {
			case <-done:
				workerDone <- nil
				return
			default:
			}
			now := e.clock.Now()
			var res queue.LeaseResult
			res, err = e.store.Lease(e.ctx, queue.LeaseParams{Queue: "w", Limit: 10, Now: now, Until: now.Add(time.Minute), Worker: "w"})
			for _, j := range res.Jobs {
				if err == nil {
					var es []error
					es, err = e.store.Settle(e.ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: "w", Outcome: queue.OutcomeComplete, Now: now}})
					if err == nil {
						err = es[0]
					}
				}
			}
		}
		workerDone <- err
	}()
	for range enqueuers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range tries {
				r, err := e.q.Enqueue(e.ctx, job)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if !r.Duplicate {
					inserted = append(inserted, r.ID)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(done)
	require.NoError(e.t, <-workerDone)
	require.NoError(e.t, errors.Join(errs...))
	require.Len(e.t, inserted, 1, "one job per period, however fast it completes")
}

// A dead job whose key a live job holds stays dead on RetryDead, naming
// the holder, as for a given key; UniqueStates with dead makes the dead
// job hold the key against new enqueues instead.
func testUniqueRetryDead(e *env) {
	args := queue.NewJob{Kind: "charge", Queue: "r", Args: map[string]int{"order": 7}, UniqueByArgs: true}
	dead := e.killNew(args)
	key := e.get(dead).UniqueKey
	holder := e.enqueue(args) // dead is not among the default states
	res, err := e.store.RetryDead(e.ctx, nil, queue.DeadFilter{IDs: []int64{dead}}, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, queue.RetryDeadResult{Skipped: []queue.KeyHeldError{{JobID: dead, Key: key, HolderID: holder}}}, res)
	e.delete(holder)

	withDead := args
	withDead.UniqueStates = []queue.State{queue.StatePending, queue.StateScheduled, queue.StateBlocked, queue.StateRunning, queue.StateDead}
	require.Equal(e.t, queue.EnqueueResult{ID: dead, Duplicate: true}, e.enqueueRes(withDead))
	e.retry(dead)
	require.Equal(e.t, queue.EnqueueResult{ID: dead, Duplicate: true}, e.enqueueRes(withDead), "retried, it holds the key live")
}

// A duplicate by a period adds nothing, so a full queue takes it.
func testUniquePeriodWhenFull(e *env) {
	e.settings("m", queue.QueueSettings{MaxPending: 1})
	job := queue.NewJob{Kind: "k", Queue: "m", UniqueKey: "u", UniqueFor: time.Hour}
	first := e.enqueue(job)
	e.complete(e.leaseOne("m"))
	e.enqueue(queue.NewJob{Kind: "k", Queue: "m"}) // the queue is full
	require.Equal(e.t, queue.EnqueueResult{ID: first, Duplicate: true}, e.enqueueRes(job))
	_, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "k", Queue: "m", UniqueKey: "v", UniqueFor: time.Hour})
	var full *queue.QueueFullError
	require.ErrorAs(e.t, err, &full)
}

// Prune removes periods that ended (the key was free already) and dead
// jobs past DeadBefore, except those that block their ordering key; it
// counts both.
func testUniquePrune(e *env) {
	for i := range 3 {
		e.enqueue(queue.NewJob{Kind: "k", Queue: "p", UniqueKey: string(rune('a' + i)), UniqueFor: time.Duration(i+1) * time.Hour})
	}
	old := e.killNew(queue.NewJob{})
	blocking := e.killNew(queue.NewJob{OrderKey: "o"})
	follower := e.enqueue(queue.NewJob{Kind: "charge", Queue: "r", OrderKey: "o"})
	e.clock.Advance(150 * time.Minute)
	recent := e.killNew(queue.NewJob{})

	// Periods a and b ended; one call of limit 1 removes one of each kind.
	n, err := e.store.Prune(e.ctx, queue.PruneParams{UniqueBefore: e.clock.Now(), DeadBefore: e.clock.Now().Add(-time.Hour), Limit: 1})
	require.NoError(e.t, err)
	require.Equal(e.t, 2, n, "one period and one dead job")
	require.Equal(e.t, queue.State(""), e.state(old))
	require.Equal(e.t, queue.StateDead, e.state(blocking), "a dead job that blocks its key stays")
	require.Equal(e.t, queue.StateBlocked, e.state(follower))
	require.Equal(e.t, queue.StateDead, e.state(recent))
	n, err = e.store.Prune(e.ctx, queue.PruneParams{UniqueBefore: e.clock.Now(), DeadBefore: e.clock.Now().Add(-time.Hour), Limit: 10})
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n, "the other ended period")
	n, err = e.store.Prune(e.ctx, queue.PruneParams{UniqueBefore: e.clock.Now(), DeadBefore: e.clock.Now().Add(-time.Hour), Limit: 10})
	require.NoError(e.t, err)
	require.Zero(e.t, n, "period c runs until 3h; nothing else is old enough")

	// Pruning ended periods frees nothing that was held: c still holds.
	for _, id := range e.lease("p", 10) {
		e.complete(id)
	}
	require.True(e.t, e.enqueueRes(queue.NewJob{Kind: "k", Queue: "p", UniqueKey: "c", UniqueFor: time.Hour}).Duplicate)
	require.False(e.t, e.enqueueRes(queue.NewJob{Kind: "k", Queue: "p", UniqueKey: "a", UniqueFor: time.Hour}).Duplicate)
}
