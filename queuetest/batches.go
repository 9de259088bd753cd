package queuetest

import (
	"strconv"
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// batchArea: batches and their callbacks, each enqueued exactly once.
var batchArea = area{"Batch", []testCase{
	{"SuccessAndCompleteWhenAllSucceed", testBatchSuccess},
	{"DeathOnceThenCompleteWithoutSuccess", testBatchDeath},
	{"OpenBatchCallsBackOnlyOnceClosed", testBatchOpen},
	{"CancelDeleteExpiryCountAsEnded", testBatchOtherEnds},
	{"EmptyBatchCompletesAtOnce", testBatchEmpty},
	{"MembersEndingAtOnceCallBackOnce", testBatchConcurrent},
	{"FollowsCallerTx", testBatchTx},
	{"ChildrenCancelledByParentsCount", testBatchWithDeps},
	{"EndedBatchesPruned", testBatchPrune},
}}

// batchStore returns the store as a BatchStore, skipping the case when the
// backend keeps no batches.
func (e *env) batchStore() queue.BatchStore {
	bs, ok := e.store.(queue.BatchStore)
	if !ok {
		e.t.Skip("backend does not implement queue.BatchStore")
	}
	return bs
}

// callbacks is a BatchSpec with the three callbacks, in queue "cb".
func callbacks(open bool) queue.BatchSpec {
	return queue.BatchSpec{Description: "nightly sync", Open: open,
		OnSuccess:  &queue.NewJob{Kind: "batch.success", Queue: "cb"},
		OnComplete: &queue.NewJob{Kind: "batch.complete", Queue: "cb", Args: map[string]int{"n": 1}},
		OnDeath:    &queue.NewJob{Kind: "batch.death", Queue: "cb"}}
}

// members returns n plain jobs for queue "b".
func members(n int) []queue.NewJob {
	jobs := make([]queue.NewJob, n)
	for i := range jobs {
		jobs[i] = queue.NewJob{Kind: "member", Queue: "b"}
	}
	return jobs
}

func (e *env) batch(id int64) *queue.Batch {
	e.t.Helper()
	b, err := e.batchStore().Batch(e.ctx, id)
	require.NoError(e.t, err)
	return b
}

// callbackKinds lists the kinds of the jobs in queue "cb", oldest first,
// checking each names batch id.
func (e *env) callbackKinds(id int64) []string {
	e.t.Helper()
	var kinds []string
	for _, j := range e.jobsIn("cb") {
		require.Equal(e.t, strconv.FormatInt(id, 10), j.Metadata[queue.BatchMetadataKey])
		kinds = append(kinds, j.Kind)
	}
	return kinds
}

func (e *env) enqueueBatch(spec queue.BatchSpec, jobs []queue.NewJob) (int64, []int64) {
	e.t.Helper()
	id, res, err := e.q.EnqueueBatch(e.ctx, spec, jobs)
	require.NoError(e.t, err)
	ids := make([]int64, len(res))
	for i, r := range res {
		ids[i] = r.ID
	}
	return id, ids
}

func testBatchSuccess(e *env) {
	e.batchStore()
	id, _ := e.enqueueBatch(callbacks(false), members(3))
	b := e.batch(id)
	require.Equal(e.t, 3, b.Total)
	require.False(e.t, b.Open())
	require.Equal(e.t, "nightly sync", b.Description)
	jobs := e.lease("b", 10)
	require.Len(e.t, jobs, 3)
	e.complete(jobs[0])
	e.complete(jobs[1])
	require.Empty(e.t, e.callbackKinds(id))
	require.Equal(e.t, 2, e.batch(id).Succeeded)
	e.complete(jobs[2])
	require.Equal(e.t, []string{"batch.success", "batch.complete"}, e.callbackKinds(id))
	b = e.batch(id)
	require.Equal(e.t, [4]int{3, 3, 0, 0}, [4]int{b.Total, b.Succeeded, b.Dead, b.Cancelled})
	require.True(e.t, b.SuccessFired && b.CompleteFired)
	require.False(e.t, b.DeathFired)
	require.NotZero(e.t, b.SuccessJob)
	cb := e.get(b.CompleteJob)
	require.JSONEq(e.t, `{"n":1}`, string(cb.Payload))
	require.Equal(e.t, queue.StatePending, cb.State)
}

func testBatchDeath(e *env) {
	e.batchStore()
	id, _ := e.enqueueBatch(callbacks(false), members(3))
	jobs := e.lease("b", 10)
	e.kill(jobs[0])
	require.Equal(e.t, []string{"batch.death"}, e.callbackKinds(id), "the first death calls back at once")
	e.kill(jobs[1])
	require.Equal(e.t, []string{"batch.death"}, e.callbackKinds(id), "once")
	e.complete(jobs[2])
	require.Equal(e.t, []string{"batch.death", "batch.complete"}, e.callbackKinds(id))
	b := e.batch(id)
	require.Equal(e.t, [4]int{3, 1, 2, 0}, [4]int{b.Total, b.Succeeded, b.Dead, b.Cancelled})
	require.False(e.t, b.SuccessFired)
	require.Equal(e.t, 3, b.Done())

	// A dead member retried and completed does not count again.
	e.retry(jobs[0].ID)
	e.complete(e.leaseOne("b"))
	require.Equal(e.t, 1, e.batch(id).Succeeded)
	require.Len(e.t, e.callbackKinds(id), 2)
}

func testBatchOpen(e *env) {
	e.batchStore()
	id, ids := e.enqueueBatch(callbacks(true), members(1))
	e.complete(e.leaseOne("b"))
	require.Empty(e.t, e.callbackKinds(id), "an open batch has not ended")
	late := e.enqueue(queue.NewJob{Kind: "member", Queue: "b", Batch: id})
	require.NotEqual(e.t, ids[0], late)
	require.Equal(e.t, 2, e.batch(id).Total)
	e.complete(e.leaseOne("b"))
	require.Empty(e.t, e.callbackKinds(id))
	require.NoError(e.t, e.q.CloseBatch(e.ctx, id))
	require.Equal(e.t, []string{"batch.success", "batch.complete"}, e.callbackKinds(id), "closing the ended batch calls back")
	require.NoError(e.t, e.q.CloseBatch(e.ctx, id), "closing twice is a no-op")
	require.Len(e.t, e.callbackKinds(id), 2)

	_, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "member", Queue: "b", Batch: id})
	require.ErrorIs(e.t, err, queue.ErrBatchClosed)
	_, err = e.q.Enqueue(e.ctx, queue.NewJob{Kind: "member", Queue: "b", Batch: id + 1000})
	require.ErrorIs(e.t, err, queue.ErrBatchNotFound)
	require.ErrorIs(e.t, e.q.CloseBatch(e.ctx, id+1000), queue.ErrBatchNotFound)
	require.Zero(e.t, e.queueStats("b").Pending, "refused members are not inserted")
}

func testBatchOtherEnds(e *env) {
	e.batchStore()
	jobs := members(3)
	jobs[0].Delay, jobs[1].Delay = time.Hour, time.Hour
	jobs[2].Queue, jobs[2].ExpiresAt = "x", e.clock.Now().Add(time.Minute)
	id, ids := e.enqueueBatch(callbacks(false), jobs)
	require.Equal(e.t, queue.StateCancelled, e.cancel(ids[0]))
	e.delete(ids[1])
	require.Empty(e.t, e.callbackKinds(id))
	e.clock.Advance(2 * time.Minute)
	require.Empty(e.t, e.lease("x", 10))
	require.Equal(e.t, []string{"batch.complete", "batch.death"}, e.callbackKinds(id))
	b := e.batch(id)
	require.Equal(e.t, [4]int{3, 0, 1, 2}, [4]int{b.Total, b.Succeeded, b.Dead, b.Cancelled})
}

func testBatchEmpty(e *env) {
	e.batchStore()
	id, _ := e.enqueueBatch(callbacks(false), nil)
	require.Equal(e.t, []string{"batch.success", "batch.complete"}, e.callbackKinds(id))
	// A batch without callbacks records that their moment came.
	id2, _ := e.enqueueBatch(queue.BatchSpec{}, nil)
	b := e.batch(id2)
	require.True(e.t, b.SuccessFired && b.CompleteFired)
	require.Zero(e.t, b.SuccessJob)
	list, err := e.q.Inspector().Batches(e.ctx, queue.BatchFilter{})
	require.NoError(e.t, err)
	require.Len(e.t, list, 2)
	require.Equal(e.t, []int64{id2, id}, []int64{list[0].ID, list[1].ID}, "newest first")
	list, err = e.q.Inspector().Batches(e.ctx, queue.BatchFilter{BeforeID: id2})
	require.NoError(e.t, err)
	require.Len(e.t, list, 1)
}

func testBatchConcurrent(e *env) {
	e.batchStore()
	const n = 20
	id, _ := e.enqueueBatch(callbacks(false), members(n))
	jobs := e.lease("b", n)
	require.Len(e.t, jobs, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, j := range jobs {
		wg.Go(func() {
			s := settlement(j, queue.OutcomeComplete)
			if i%5 == 0 {
				s.Outcome, s.Reason = queue.OutcomeDead, "test"
			}
			s.Now = e.clock.Now()
			res, err := e.store.Settle(e.ctx, nil, []queue.Settlement{s})
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
	kinds := e.callbackKinds(id)
	require.ElementsMatch(e.t, []string{"batch.death", "batch.complete"}, kinds)
	b := e.batch(id)
	require.Equal(e.t, [4]int{n, n - 4, 4, 0}, [4]int{b.Total, b.Succeeded, b.Dead, b.Cancelled})
}

func testBatchTx(e *env) {
	e.batchStore()
	if e.db == nil {
		e.t.Skip("backend gives no DB handle")
	}
	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	id, res, err := e.q.EnqueueBatchTx(e.ctx, tx, callbacks(false), members(2))
	require.NoError(e.t, err)
	require.NoError(e.t, tx.Rollback())
	_, err = e.q.Inspector().Batch(e.ctx, id)
	require.ErrorIs(e.t, err, queue.ErrBatchNotFound)
	require.Equal(e.t, queue.State(""), e.state(res[0].ID))
}

func testBatchWithDeps(e *env) {
	e.batchStore()
	e.depStore()
	parent := e.enqueue(queue.NewJob{Kind: "p", Queue: "p"})
	jobs := members(2)
	jobs[0].DependsOn = []int64{parent}
	id, ids := e.enqueueBatch(callbacks(false), jobs)
	require.Equal(e.t, queue.StateBlocked, e.state(ids[0]))
	e.kill(e.leaseOne("p"))
	require.Equal(e.t, queue.StateCancelled, e.state(ids[0]))
	e.complete(e.leaseOne("b"))
	require.Equal(e.t, []string{"batch.complete"}, e.callbackKinds(id))
	b := e.batch(id)
	require.Equal(e.t, [4]int{2, 1, 0, 1}, [4]int{b.Total, b.Succeeded, b.Dead, b.Cancelled})
}

func testBatchPrune(e *env) {
	e.batchStore()
	ended, _ := e.enqueueBatch(queue.BatchSpec{}, members(1))
	e.complete(e.leaseOne("b"))
	open, _ := e.enqueueBatch(queue.BatchSpec{Open: true}, nil)
	running, _ := e.enqueueBatch(queue.BatchSpec{}, members(1))
	e.clock.Advance(time.Hour)
	n, err := e.store.Prune(e.ctx, queue.PruneParams{BatchesBefore: e.clock.Now().Add(-90 * time.Minute), Limit: 100})
	require.NoError(e.t, err)
	require.Zero(e.t, n, "the batch ended an hour ago, after the cut-off 90 minutes ago")
	n, err = e.store.Prune(e.ctx, queue.PruneParams{BatchesBefore: e.clock.Now(), Limit: 100})
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n)
	_, err = e.batchStore().Batch(e.ctx, ended)
	require.ErrorIs(e.t, err, queue.ErrBatchNotFound)
	e.batch(open)
	e.batch(running)
	// The running batch's member still counts.
	e.complete(e.leaseOne("b"))
	require.Equal(e.t, 1, e.batch(running).Succeeded)
}
