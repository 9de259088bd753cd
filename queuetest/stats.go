package queuetest

import (
	"fmt"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// statsArea: Stats and Prune.
var statsArea = area{"Stats", []testCase{
	{"CountsPerQueueAndState", testStats},
	{"CountsEveryStateAndPausedQueues", testStatsEveryState},
	{"ListsIdleQueuesWithSettings", testStatsIdleSettings},
	{"PruneRemovesOldFinishedJobs", testPrune},
	{"PruneAtMostLimitOfEachKind", testPruneLimit},
	{"ThroughputCoversTheHourBeforeNow", testStatsThroughputHour},
}}

func testStats(e *env) {
	e.enqueue(queue.NewJob{Kind: "k", Queue: "a", RunAt: t0.Add(-time.Minute)})
	e.enqueue(queue.NewJob{Kind: "k", Queue: "a"})
	e.enqueue(queue.NewJob{Kind: "k", Queue: "a", Delay: time.Hour})
	e.enqueue(queue.NewJob{Kind: "k", Queue: "b"})
	e.enqueue(queue.NewJob{Kind: "k", Queue: "b", Delay: time.Second})
	e.leaseOne("b")
	e.clock.Advance(2 * time.Second) // b's scheduled job is now due
	st, err := e.store.Stats(e.ctx, e.clock.Now())
	require.NoError(e.t, err)
	require.Len(e.t, st.Queues, 2)
	a, b := st.Queues[0], st.Queues[1]
	require.Equal(e.t, "a", a.Name)
	require.Equal(e.t, 2, a.Pending)
	require.Equal(e.t, 1, a.Scheduled)
	require.Equal(e.t, time.Minute+2*time.Second, a.OldestPending)
	require.Equal(e.t, 1, b.Pending, "a due scheduled job counts as pending")
	require.Equal(e.t, 0, b.Scheduled)
	require.Equal(e.t, 1, b.Running)
	require.Equal(e.t, time.Second, b.OldestPending)
	require.Len(e.t, st.Throughput, 60)
	require.True(e.t, st.Throughput[59].Minute.Equal(e.clock.Now().Truncate(time.Minute)))
}

func testPrune(e *env) {
	kept := e.enqueue(queue.NewJob{Kind: "k"})
	j := e.leaseOne(queue.DefaultQueue)
	s := settlement(j, queue.OutcomeComplete)
	s.Keep = true
	require.NoError(e.t, e.settle(s)[0])
	cancelled := e.enqueue(queue.NewJob{Kind: "k"})
	_, err := e.store.Cancel(e.ctx, nil, cancelled, e.clock.Now())
	require.NoError(e.t, err)
	pending := e.enqueue(queue.NewJob{Kind: "k", Delay: 48 * time.Hour})

	e.clock.Advance(2 * time.Hour)
	n, err := e.store.Prune(e.ctx, queue.PruneParams{CompletedBefore: e.clock.Now().Add(-3 * time.Hour), CancelledBefore: e.clock.Now().Add(-3 * time.Hour)})
	require.NoError(e.t, err)
	require.Zero(e.t, n, "nothing is old enough yet")
	n, err = e.store.Prune(e.ctx, queue.PruneParams{CompletedBefore: e.clock.Now().Add(-time.Hour), CancelledBefore: e.clock.Now().Add(-time.Hour), MetricsBefore: e.clock.Now()})
	require.NoError(e.t, err)
	require.Equal(e.t, 2, n)
	for _, id := range []int64{kept, cancelled} {
		_, err := e.store.Get(e.ctx, id)
		require.ErrorIs(e.t, err, queue.ErrNotFound)
	}
	require.Equal(e.t, queue.StateScheduled, e.get(pending).State, "live jobs are never pruned")
	st, err := e.store.Stats(e.ctx, e.clock.Now())
	require.NoError(e.t, err)
	for _, m := range st.Throughput {
		require.Zero(e.t, m.Completed, "old metrics pruned")
	}
}

// Stats counts every state of a queue, lists a paused queue that has no
// jobs, and counts dead attempts in the throughput.
func testStatsEveryState(e *env) {
	require.NoError(e.t, e.store.SetPaused(e.ctx, nil, "idle", true, e.clock.Now()))
	for range 4 {
		e.enqueue(queue.NewJob{Kind: "k", Queue: "s"})
	}
	e.enqueue(queue.NewJob{Kind: "k", Queue: "s", Delay: time.Hour})
	jobs := e.lease("s", 4)
	require.Len(e.t, jobs, 4)
	keep := settlement(jobs[0], queue.OutcomeComplete)
	keep.Keep = true
	require.NoError(e.t, e.settle(keep)[0])
	cancel := settlement(jobs[1], queue.OutcomeCancel)
	cancel.RunAt = e.clock.Now()
	require.NoError(e.t, e.settle(cancel)[0])
	e.kill(jobs[2])

	st, err := e.store.Stats(e.ctx, e.clock.Now())
	require.NoError(e.t, err)
	require.Len(e.t, st.Queues, 2)
	require.Equal(e.t, queue.QueueStats{Name: "idle", Paused: true}, st.Queues[0], "a paused queue without jobs is listed")
	s := st.Queues[1]
	require.Equal(e.t, queue.QueueStats{Name: "s", Scheduled: 1, Running: 1, Completed: 1, Cancelled: 1, Dead: 1}, s)
	last := st.Throughput[len(st.Throughput)-1]
	require.Equal(e.t, 1, last.Completed)
	require.Equal(e.t, 1, last.Dead)
}

// Stats lists every known queue, idle ones included: one resumed after a
// pause and one given settings, both without jobs.
func testStatsIdleSettings(e *env) {
	require.NoError(e.t, e.store.SetPaused(e.ctx, nil, "resumed", true, e.clock.Now()))
	require.NoError(e.t, e.store.SetPaused(e.ctx, nil, "resumed", false, e.clock.Now()))
	require.NoError(e.t, e.store.SetQueueSettings(e.ctx, nil, "limited", queue.QueueSettings{MaxPending: 5}, e.clock.Now()))
	require.NoError(e.t, e.store.SetQueueSettings(e.ctx, nil, "plain", queue.QueueSettings{DeadSkipsKey: true}, e.clock.Now()))
	st, err := e.store.Stats(e.ctx, e.clock.Now())
	require.NoError(e.t, err)
	require.Equal(e.t, []queue.QueueStats{{Name: "limited", MaxPending: 5}, {Name: "plain"}, {Name: "resumed"}}, st.Queues)
}

// Prune removes at most Limit jobs of each finished state, and Limit
// processed keys, per call, oldest first; it returns how many jobs and
// keys it removed, and the next call takes the rest.
func testPruneLimit(e *env) {
	finish := func(o queue.Outcome) {
		e.t.Helper()
		e.enqueue(queue.NewJob{Kind: "k"})
		s := settlement(e.leaseOne(queue.DefaultQueue), o)
		s.Keep, s.RunAt = true, e.clock.Now()
		require.NoError(e.t, e.settle(s)[0])
		e.clock.Advance(time.Second)
	}
	for range 3 {
		finish(queue.OutcomeComplete)
		finish(queue.OutcomeCancel)
	}
	for i := range 3 {
		tx, err := e.db.BeginTx(e.ctx, nil)
		require.NoError(e.t, err)
		_, err = e.store.MarkProcessed(e.ctx, tx, fmt.Sprint("key-", i), e.clock.Now())
		require.NoError(e.t, err)
		require.NoError(e.t, tx.Commit())
	}
	e.clock.Advance(time.Hour)
	now := e.clock.Now()
	p := queue.PruneParams{CompletedBefore: now, CancelledBefore: now, ProcessedBefore: now, Limit: 2}
	n, err := e.store.Prune(e.ctx, p)
	require.NoError(e.t, err)
	require.Equal(e.t, 6, n, "two of each kind")
	qs := e.queueStats(queue.DefaultQueue)
	require.Equal(e.t, 1, qs.Completed)
	require.Equal(e.t, 1, qs.Cancelled)
	list, err := e.store.List(e.ctx, queue.ListFilter{})
	require.NoError(e.t, err)
	require.Len(e.t, list, 2)
	require.Greater(e.t, list[1].ID, int64(4), "the oldest went first")
	n, err = e.store.Prune(e.ctx, p)
	require.NoError(e.t, err)
	require.Equal(e.t, 3, n, "the rest")
	n, err = e.store.Prune(e.ctx, p)
	require.NoError(e.t, err)
	require.Zero(e.t, n)
}

// Throughput counts the attempts settled in the hour before now, one entry
// per minute, oldest first; older ones drop out without a prune.
func testStatsThroughputHour(e *env) {
	for range 2 {
		e.enqueue(queue.NewJob{Kind: "k"})
	}
	e.complete(e.leaseOne(queue.DefaultQueue))
	e.clock.Advance(30 * time.Minute)
	e.complete(e.leaseOne(queue.DefaultQueue))
	sum := func() (n int) {
		st, err := e.store.Stats(e.ctx, e.clock.Now())
		require.NoError(e.t, err)
		require.Len(e.t, st.Throughput, 60)
		for i, m := range st.Throughput {
			require.True(e.t, m.Minute.Equal(e.clock.Now().Truncate(time.Minute).Add(time.Duration(i-59)*time.Minute)), "minute %d: %s", i, m.Minute)
			n += m.Completed
		}
		return n
	}
	require.Equal(e.t, 2, sum())
	e.clock.Advance(45 * time.Minute)
	require.Equal(e.t, 1, sum(), "the first completion is over an hour old")
	e.clock.Advance(time.Hour)
	require.Zero(e.t, sum())
}
