package queuetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// limitsArea: QueueSettings.MaxRunning and RateLimit, and their per
// partition key twins (partition.go), limits that every process sharing
// the store obeys.
var limitsArea = area{"Limits", append([]testCase{
	{"MaxRunningHoldsAcrossStores", testMaxRunningAcrossStores},
	{"MaxRunningSlotsComeBackWhenLeasesExpire", testMaxRunningExpiry},
	{"MaxRunningZeroMeansNoLimit", testMaxRunningOff},
	{"MaxRunningHoldsUnderConcurrentLeases", testMaxRunningConcurrent},
	{"RateLimitSharedAcrossStores", testRateLimitAcrossStores},
	{"LimitedQueueRunsScheduledJobs", testLimitedScheduled},
	{"RateLimitHoldsUnderConcurrentLeases", testRateLimitConcurrent},
}, partitionCases...)}

// peerStore opens a second store on the case's database: another process.
func (e *env) peerStore() queue.Store {
	e.t.Helper()
	require.NotNil(e.t, e.peer, "the backend must open peers (Backend.Peer) for the limits cases")
	s := e.peer(e.t)
	e.t.Cleanup(func() { s.Close() })
	return s
}

// leaseFrom leases up to limit jobs of queue name from store s.
func (e *env) leaseFrom(s queue.Store, name string, limit int) queue.LeaseResult {
	e.t.Helper()
	now := e.clock.Now()
	res, err := s.Lease(e.ctx, queue.LeaseParams{Queue: name, Limit: limit, Now: now, Until: now.Add(30 * time.Second), Worker: "w"})
	require.NoError(e.t, err)
	return res
}

// A lease takes at most MaxRunning minus the jobs running now, whichever
// store (process) leased them, and says it was cut short; a settled job
// frees its slot for any store.
func testMaxRunningAcrossStores(e *env) {
	other := e.peerStore()
	e.settings("api", queue.QueueSettings{MaxRunning: 3})
	for range 10 {
		e.enqueue(queue.NewJob{Kind: "call", Queue: "api"})
	}
	e.enqueue(queue.NewJob{Kind: "call", Queue: "free"})
	require.Equal(e.t, 3, e.queueStats("api").MaxRunning)

	a := e.leaseFrom(e.store, "api", 2)
	require.Len(e.t, a.Jobs, 2)
	require.False(e.t, a.Limited, "room for the whole lease")
	b := e.leaseFrom(other, "api", 10)
	require.Len(e.t, b.Jobs, 1, "the other process gets the one slot left")
	require.True(e.t, b.Limited)
	for _, s := range []queue.Store{e.store, other} {
		res := e.leaseFrom(s, "api", 10)
		require.Empty(e.t, res.Jobs, "every slot is taken")
		require.True(e.t, res.Limited)
	}
	require.Len(e.t, e.leaseFrom(other, "free", 10).Jobs, 1, "other queues are not limited")

	e.complete(a.Jobs[0])
	res := e.leaseFrom(other, "api", 10)
	require.Len(e.t, res.Jobs, 1, "a settled job frees its slot for any process")
	require.True(e.t, res.Limited)

	// A retry (or a death) frees the slot too.
	fail := settlement(b.Jobs[0], queue.OutcomeRetry)
	fail.RunAt = e.clock.Now()
	require.NoError(e.t, e.settle(fail)[0])
	require.Len(e.t, e.leaseFrom(e.store, "api", 10).Jobs, 1)
	require.Equal(e.t, 3, e.queueStats("api").Running)
}

// A process that dies holding slots gives them back when its leases
// expire, before any rescuer runs: only leases that hold count.
func testMaxRunningExpiry(e *env) {
	checkSlotsComeBack(e, queue.QueueSettings{MaxRunning: 2}, func() {
		for range 5 {
			e.enqueue(queue.NewJob{Kind: "call", Queue: "api"})
		}
	})
}

// checkSlotsComeBack checks, for settings that allow two of the jobs
// enqueue puts in queue "api" to run at once, that the slots of a process
// that died (the env's store, which never settles) come back to another
// when their leases expire, and that an extended lease keeps its slot.
func checkSlotsComeBack(e *env, settings queue.QueueSettings, enqueue func()) {
	other := e.peerStore()
	e.settings("api", settings)
	enqueue()
	dead := e.leaseFrom(e.store, "api", 5) // the process that will die
	require.Len(e.t, dead.Jobs, 2)
	require.Empty(e.t, e.leaseFrom(other, "api", 5).Jobs)

	e.clock.Advance(29 * time.Second)
	require.Empty(e.t, e.leaseFrom(other, "api", 5).Jobs, "leases still hold")
	// (Margins of a second: stores on hosts whose clocks disagree compare
	// times to their measure of the offset.)
	e.clock.Advance(2 * time.Second)
	res := e.leaseFrom(other, "api", 5)
	require.Len(e.t, res.Jobs, 2, "expired leases free their slots")
	require.True(e.t, res.Limited)

	// A heartbeat keeps a slot: an extended lease still counts.
	ext, err := other.Extend(e.ctx, []queue.LeaseRef{{JobID: res.Jobs[0].ID, Token: res.Jobs[0].LeaseToken}},
		e.clock.Now().Add(time.Minute))
	require.NoError(e.t, err)
	require.Empty(e.t, ext.Lost)
	e.clock.Advance(31 * time.Second)
	require.Len(e.t, e.leaseFrom(e.store, "api", 5).Jobs, 1, "the extended lease holds its slot; the other expired")
}

// MaxRunning 0 (the default, or set back to 0) leaves leases unlimited;
// a negative limit is refused.
func testMaxRunningOff(e *env) {
	for range 6 {
		e.enqueue(queue.NewJob{Kind: "call", Queue: "api"})
	}
	e.settings("api", queue.QueueSettings{MaxRunning: 1})
	require.Len(e.t, e.leaseFrom(e.store, "api", 6).Jobs, 1)
	e.settings("api", queue.QueueSettings{MaxPending: 100})
	res := e.leaseFrom(e.store, "api", 3)
	require.Len(e.t, res.Jobs, 3)
	require.False(e.t, res.Limited)
	qs := e.queueStats("api")
	require.Equal(e.t, 0, qs.MaxRunning)
	require.Equal(e.t, 100, qs.MaxPending)

	// A limit below the jobs running now leases nothing until enough end.
	e.settings("api", queue.QueueSettings{MaxRunning: 2})
	res = e.leaseFrom(e.store, "api", 6)
	require.Empty(e.t, res.Jobs)
	require.True(e.t, res.Limited)

	err := e.q.Inspector().SetQueueSettings(e.ctx, "api", queue.QueueSettings{MaxRunning: -1})
	require.ErrorIs(e.t, err, queue.ErrInvalidArgument)
}

// Many leases at once from two stores never run more jobs than the limit.
func testMaxRunningConcurrent(e *env) {
	const limit, jobs = 4, 120
	other := e.peerStore()
	e.settings("api", queue.QueueSettings{MaxRunning: limit})
	batch := make([]queue.NewJob, jobs)
	for i := range batch {
		batch[i] = queue.NewJob{Kind: "call", Queue: "api"}
	}
	_, err := e.q.EnqueueMany(e.ctx, batch)
	require.NoError(e.t, err)

	// running counts jobs leased and not yet being settled: never more
	// than the store counts as running, so never more than the limit.
	var running, peak, done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		s := []queue.Store{e.store, other}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done.Load() < jobs {
				now := e.clock.Now()
				res, err := s.Lease(e.ctx, queue.LeaseParams{Queue: "api", Limit: 1 + w%3, Now: now, Until: now.Add(time.Hour), Worker: "w"})
				if err != nil {
					errs <- err
					return
				}
				n := running.Add(int64(len(res.Jobs)))
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				for _, j := range res.Jobs {
					running.Add(-1)
					if _, err := s.Settle(e.ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Kind: j.Kind,
						Outcome: queue.OutcomeComplete, Now: now}}); err != nil {
						errs <- err
						return
					}
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(e.t, err)
	}
	require.EqualValues(e.t, jobs, done.Load())
	require.LessOrEqual(e.t, peak.Load(), int64(limit), "jobs running at once")
	require.Equal(e.t, 0, e.queueStats("api").Pending)
}

// requireNear checks that got is want, to the second (stores on hosts
// whose clocks disagree compare times to their measure of the offset).
func (e *env) requireNear(want, got time.Time, what string) {
	e.t.Helper()
	require.WithinDuration(e.t, want, got, time.Second, "%s: %s, want %s", what, got, want)
}

// A queue's RateLimit is one token bucket for every store: leases from
// two stores spend it together, it refills RateLimit per RatePeriod and
// holds no more than RateLimit, and a lease it cut short says when the
// next job may start.
func testRateLimitAcrossStores(e *env) {
	other := e.peerStore()
	e.settings("api", queue.QueueSettings{RateLimit: 5, RatePeriod: time.Minute})
	for range 30 {
		e.enqueue(queue.NewJob{Kind: "call", Queue: "api"})
	}
	e.enqueue(queue.NewJob{Kind: "call", Queue: "free"})
	qs := e.queueStats("api")
	require.Equal(e.t, 5, qs.RateLimit)
	require.Equal(e.t, time.Minute, qs.RatePeriod)

	res := e.leaseFrom(e.store, "api", 3)
	require.Len(e.t, res.Jobs, 3, "the bucket starts full")
	require.True(e.t, res.RateLimitedUntil.IsZero())
	res = e.leaseFrom(other, "api", 10)
	require.Len(e.t, res.Jobs, 2, "the other process spends the same bucket")
	e.requireNear(e.clock.Now().Add(12*time.Second), res.RateLimitedUntil, "one token per 12s")
	res = e.leaseFrom(e.store, "api", 10)
	require.Empty(e.t, res.Jobs)
	require.False(e.t, res.RateLimitedUntil.IsZero())
	require.Len(e.t, e.leaseFrom(other, "free", 10).Jobs, 1, "other queues are not limited")

	e.clock.Advance(13 * time.Second)
	require.Len(e.t, e.leaseFrom(other, "api", 10).Jobs, 1, "a token came back")
	e.clock.Advance(time.Hour)
	require.Len(e.t, e.leaseFrom(e.store, "api", 10).Jobs, 5, "the bucket holds at most RateLimit")

	// Completing jobs frees no tokens: the rate counts starts.
	e.clock.Advance(time.Hour)
	first := e.leaseFrom(e.store, "api", 5).Jobs
	require.Len(e.t, first, 5)
	for _, j := range first {
		e.complete(j)
	}
	require.Empty(e.t, e.leaseFrom(e.store, "api", 5).Jobs)

	// Both limits at once: the tighter one wins. RatePeriod defaults to a
	// second.
	e.settings("api", queue.QueueSettings{RateLimit: 100, MaxRunning: 2})
	require.Equal(e.t, time.Second, e.queueStats("api").RatePeriod)
	e.clock.Advance(time.Hour)
	res = e.leaseFrom(other, "api", 10)
	require.Len(e.t, res.Jobs, 2)
	require.True(e.t, res.Limited)

	e.settings("api", queue.QueueSettings{})
	require.Len(e.t, e.leaseFrom(other, "api", 100).Jobs, 30-3-2-1-5-5-2, "no limit: every ready job")

	for _, bad := range []queue.QueueSettings{{RateLimit: -1}, {RateLimit: 1, RatePeriod: time.Microsecond}, {RateLimit: 1, RatePeriod: -time.Second}} {
		err := e.q.Inspector().SetQueueSettings(e.ctx, "api", bad)
		require.ErrorIs(e.t, err, queue.ErrInvalidArgument, "%+v", bad)
	}
}

// Many leases at once from two stores never start more jobs than the
// bucket holds.
func testRateLimitConcurrent(e *env) {
	const rate, jobs = 7, 50
	other := e.peerStore()
	e.settings("api", queue.QueueSettings{RateLimit: rate, RatePeriod: time.Hour})
	batch := make([]queue.NewJob, jobs)
	for i := range batch {
		batch[i] = queue.NewJob{Kind: "call", Queue: "api"}
	}
	_, err := e.q.EnqueueMany(e.ctx, batch)
	require.NoError(e.t, err)
	var leased atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		s := []queue.Store{e.store, other}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				now := e.clock.Now()
				res, err := s.Lease(e.ctx, queue.LeaseParams{Queue: "api", Limit: 1 + w%3, Now: now, Until: now.Add(time.Hour), Worker: "w"})
				if err != nil {
					errs <- err
					return
				}
				leased.Add(int64(len(res.Jobs)))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(e.t, err)
	}
	require.EqualValues(e.t, rate, leased.Load(), "the bucket's tokens, spent once each")
}

// A limited queue's lease still promotes due scheduled jobs and reports
// the next run time of those still to come.
func testLimitedScheduled(e *env) {
	for _, qs := range []queue.QueueSettings{{MaxRunning: 5}, {RateLimit: 100}} {
		name := fmt.Sprintf("q%d-%d", qs.MaxRunning, qs.RateLimit)
		e.settings(name, qs)
		soon := e.enqueue(queue.NewJob{Kind: "call", Queue: name, Delay: time.Minute})
		e.enqueue(queue.NewJob{Kind: "call", Queue: name, Delay: time.Hour})
		res := e.leaseFrom(e.store, name, 5)
		require.Empty(e.t, res.Jobs)
		require.True(e.t, res.NextRunAt.Equal(e.clock.Now().Add(time.Minute)), "%+v: next run at %s", qs, res.NextRunAt)
		e.clock.Advance(time.Minute)
		res = e.leaseFrom(e.store, name, 5)
		require.Equal(e.t, []int64{soon}, ids(res.Jobs), "%+v", qs)
		require.True(e.t, res.NextRunAt.Equal(e.clock.Now().Add(59*time.Minute)), "%+v: next run at %s", qs, res.NextRunAt)
	}
}
