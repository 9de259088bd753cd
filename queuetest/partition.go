package queuetest

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// Per-partition-key limits (NewJob.PartitionKey; QueueSettings.MaxRunningPerKey,
// RateLimitPerKey): cases of the Limits area.
var partitionCases = []testCase{
	{"PerKeyMaxRunningHoldsAcrossStores", testKeyMaxRunningAcrossStores},
	{"PerKeyLeasePassesSaturatedKeys", testKeyPassesHotKey},
	{"PerKeySlotsComeBackWhenLeasesExpire", testKeyExpiry},
	{"PerKeyRateSharedAcrossStores", testKeyRateAcrossStores},
	{"PerKeyLimitsLeaveJobsWithoutKeyAlone", testKeyNoKey},
	{"PerKeyMaxRunningHoldsUnderConcurrentLeases", testKeyConcurrent},
	{"PerKeySettingsAndKeysValidated", testKeyValidation},
}

// enqueueKeyed enqueues n jobs of partition key key in queue name and
// returns their ids.
func (e *env) enqueueKeyed(name, key string, n int) []int64 {
	e.t.Helper()
	var out []int64
	for range n {
		out = append(out, e.enqueue(queue.NewJob{Kind: "call", Queue: name, PartitionKey: key}))
	}
	return out
}

// countKeys counts jobs per partition key.
func countKeys(jobs []*queue.Job) map[string]int {
	n := map[string]int{}
	for _, j := range jobs {
		n[j.PartitionKey]++
	}
	return n
}

// A lease takes at most MaxRunningPerKey jobs of a key minus those of the
// key running now, whichever store (process) leased them; it passes over
// the key's other jobs to those of other keys, and says it did. The key
// travels with the job: leased, read back, dead and retried.
func testKeyMaxRunningAcrossStores(e *env) {
	other := e.peerStore()
	e.settings("api", queue.QueueSettings{MaxRunningPerKey: 2})
	a := e.enqueueKeyed("api", "acme", 5)
	b := e.enqueueKeyed("api", "bolt", 3)
	require.Equal(e.t, 2, e.queueStats("api").MaxRunningPerKey)
	require.Equal(e.t, "acme", e.get(a[0]).PartitionKey)

	first := e.leaseFrom(e.store, "api", 3)
	require.Equal(e.t, []int64{a[0], a[1], b[0]}, sortedIDs(first.Jobs), "acme's third job waits; bolt's first is next")
	require.True(e.t, first.Limited, "the lease passed over acme's jobs")
	require.Equal(e.t, 2, first.MaxRunningPerKey)
	require.Equal(e.t, map[string]int{"acme": 2, "bolt": 1}, countKeys(first.Jobs), "leased jobs carry their key")

	second := e.leaseFrom(other, "api", 10)
	require.Equal(e.t, []int64{b[1]}, ids(second.Jobs), "the other process counts the same running jobs")
	require.True(e.t, second.Limited)
	for _, s := range []queue.Store{e.store, other} {
		res := e.leaseFrom(s, "api", 10)
		require.Empty(e.t, res.Jobs, "both keys are saturated")
		require.True(e.t, res.Limited)
	}

	e.complete(first.Jobs[0]) // an acme job or bolt's: either frees its key's slot
	freed := first.Jobs[0].PartitionKey
	res := e.leaseFrom(other, "api", 10)
	require.Len(e.t, res.Jobs, 1, "a settled job frees its key's slot for any process")
	require.Equal(e.t, freed, res.Jobs[0].PartitionKey)

	// A dead job keeps its key, and takes it back when retried.
	e.kill(second.Jobs[0])
	require.Equal(e.t, "bolt", e.get(second.Jobs[0].ID).PartitionKey)
	e.retry(second.Jobs[0].ID)
	require.Equal(e.t, "bolt", e.get(second.Jobs[0].ID).PartitionKey)
}

// Jobs of keys with room are leased past the backlog of a saturated key,
// as deep as MaxKeyWalk ready jobs; deeper ones wait until the backlog
// shrinks, so that one hot key never makes leases slow.
func testKeyPassesHotKey(e *env) {
	e.settings("api", queue.QueueSettings{MaxRunningPerKey: 1})
	hot := e.enqueueKeyed("api", "hot", 50)
	cold := []int64{
		e.enqueue(queue.NewJob{Kind: "call", Queue: "api", PartitionKey: "c1"}),
		e.enqueue(queue.NewJob{Kind: "call", Queue: "api", PartitionKey: "c2"}),
		e.enqueue(queue.NewJob{Kind: "call", Queue: "api"}),
	}
	res := e.leaseFrom(e.store, "api", 10)
	require.Equal(e.t, append([]int64{hot[0]}, cold...), sortedIDs(res.Jobs))
	require.True(e.t, res.Limited)

	// Past the walk: a job behind MaxKeyWalk jobs of a saturated key.
	batch := make([]queue.NewJob, queue.MaxKeyWalk)
	for i := range batch {
		batch[i] = queue.NewJob{Kind: "call", Queue: "deep", PartitionKey: "hot"}
	}
	_, err := e.q.EnqueueMany(e.ctx, batch)
	require.NoError(e.t, err)
	late := e.enqueue(queue.NewJob{Kind: "call", Queue: "deep", PartitionKey: "cold"})
	e.settings("deep", queue.QueueSettings{MaxRunningPerKey: 1})
	res = e.leaseFrom(e.store, "deep", 10)
	require.Len(e.t, res.Jobs, 1)
	require.Equal(e.t, "hot", res.Jobs[0].PartitionKey)
	require.True(e.t, res.Limited)
	require.NotContains(e.t, ids(res.Jobs), late, "beyond the walk")
}

// A process that dies holding a key's slots gives them back when its
// leases expire; an extended lease keeps its slot.
func testKeyExpiry(e *env) {
	checkSlotsComeBack(e, queue.QueueSettings{MaxRunningPerKey: 2}, func() { e.enqueueKeyed("api", "acme", 5) })
}

// RateLimitPerKey is one token bucket per key for every store: leases
// from two stores spend it together, each key's apart; a lease that
// passed over a key's jobs says when its next token comes; an idle
// bucket refills to RateLimitPerKey and no more, and Prune removes it
// once full.
func testKeyRateAcrossStores(e *env) {
	other := e.peerStore()
	e.settings("api", queue.QueueSettings{RateLimitPerKey: 2, RatePeriodPerKey: time.Minute})
	qs := e.queueStats("api")
	require.Equal(e.t, 2, qs.RateLimitPerKey)
	require.Equal(e.t, time.Minute, qs.RatePeriodPerKey)
	e.enqueueKeyed("api", "acme", 10)
	e.enqueueKeyed("api", "bolt", 10)

	res := e.leaseFrom(e.store, "api", 3)
	require.Equal(e.t, map[string]int{"acme": 2, "bolt": 1}, countKeys(res.Jobs), "buckets start full")
	e.requireNear(e.clock.Now().Add(30*time.Second), res.RateLimitedUntil, "acme's next token: one per 30s")
	res = e.leaseFrom(other, "api", 10)
	require.Equal(e.t, map[string]int{"bolt": 1}, countKeys(res.Jobs), "the other process spends the same buckets")
	e.requireNear(e.clock.Now().Add(30*time.Second), res.RateLimitedUntil, "the next token of either key")
	require.False(e.t, res.Limited, "no key's running cap was reached")
	res = e.leaseFrom(e.store, "api", 10)
	require.Empty(e.t, res.Jobs)
	require.False(e.t, res.RateLimitedUntil.IsZero())

	e.clock.Advance(31 * time.Second)
	require.Equal(e.t, map[string]int{"acme": 1, "bolt": 1}, countKeys(e.leaseFrom(other, "api", 10).Jobs), "a token each came back")
	e.clock.Advance(time.Hour)
	require.Equal(e.t, map[string]int{"acme": 2, "bolt": 2}, countKeys(e.leaseFrom(e.store, "api", 10).Jobs),
		"a bucket holds at most RateLimitPerKey")

	// Pruned once full, a bucket starts full again: nothing changes.
	e.clock.Advance(time.Hour)
	n, err := e.store.Prune(e.ctx, queue.PruneParams{RateBucketsFullBefore: e.clock.Now(), Limit: 100})
	require.NoError(e.t, err)
	require.Equal(e.t, 2, n, "the two idle buckets")
	require.Equal(e.t, map[string]int{"acme": 2, "bolt": 2}, countKeys(e.leaseFrom(e.store, "api", 10).Jobs))
	n, err = e.store.Prune(e.ctx, queue.PruneParams{RateBucketsFullBefore: e.clock.Now(), Limit: 100})
	require.NoError(e.t, err)
	require.Zero(e.t, n, "buckets just spent are not full")

	// With the queue's own rate: both hold, and the queue's cut comes first.
	e.settings("api", queue.QueueSettings{RateLimit: 1, RatePeriod: time.Hour, RateLimitPerKey: 2, RatePeriodPerKey: time.Minute})
	e.clock.Advance(time.Hour)
	res = e.leaseFrom(other, "api", 10)
	require.Len(e.t, res.Jobs, 1)
	e.requireNear(e.clock.Now().Add(time.Hour), res.RateLimitedUntil, "the queue's next token")
}

// Jobs without a partition key are not limited by per-key limits (the
// queue-wide ones still hold).
func testKeyNoKey(e *env) {
	e.settings("api", queue.QueueSettings{MaxRunningPerKey: 1, RateLimitPerKey: 1, RatePeriodPerKey: time.Hour})
	for range 8 {
		e.enqueue(queue.NewJob{Kind: "call", Queue: "api"})
	}
	res := e.leaseFrom(e.store, "api", 10)
	require.Len(e.t, res.Jobs, 8)
	require.False(e.t, res.Limited)
	require.True(e.t, res.RateLimitedUntil.IsZero())

	e.settings("api", queue.QueueSettings{MaxRunning: 10, MaxRunningPerKey: 1})
	for range 4 {
		e.enqueue(queue.NewJob{Kind: "call", Queue: "api"})
	}
	res = e.leaseFrom(e.store, "api", 10)
	require.Len(e.t, res.Jobs, 2, "MaxRunning still counts every job")
	require.True(e.t, res.Limited)
}

// Many leases at once from two stores never run more jobs of a key than
// MaxRunningPerKey.
func testKeyConcurrent(e *env) {
	const limit, perKey = 2, 30
	keys := []string{"a", "b", "c"}
	other := e.peerStore()
	e.settings("api", queue.QueueSettings{MaxRunningPerKey: limit})
	var batch []queue.NewJob
	for i := range perKey * len(keys) {
		batch = append(batch, queue.NewJob{Kind: "call", Queue: "api", PartitionKey: keys[i%len(keys)]})
	}
	_, err := e.q.EnqueueMany(e.ctx, batch)
	require.NoError(e.t, err)

	var mu sync.Mutex
	running, peak := map[string]int{}, map[string]int{}
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		s := []queue.Store{e.store, other}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done.Load() < int64(len(batch)) {
				now := e.clock.Now()
				res, err := s.Lease(e.ctx, queue.LeaseParams{Queue: "api", Limit: 1 + w%3, Now: now, Until: now.Add(time.Hour), Worker: "w"})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, j := range res.Jobs {
					running[j.PartitionKey]++
					peak[j.PartitionKey] = max(peak[j.PartitionKey], running[j.PartitionKey])
				}
				mu.Unlock()
				for _, j := range res.Jobs {
					mu.Lock()
					running[j.PartitionKey]--
					mu.Unlock()
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
	require.EqualValues(e.t, len(batch), done.Load())
	for _, k := range keys {
		require.LessOrEqual(e.t, peak[k], limit, "jobs of key %s running at once", k)
	}
}

// Negative per-key limits and periods under a millisecond are refused
// with errors that name them; RatePeriodPerKey defaults to a second; a
// partition key is bounded and must be text.
func testKeyValidation(e *env) {
	in := e.q.Inspector()
	for _, c := range []struct {
		qs   queue.QueueSettings
		name string
	}{
		{queue.QueueSettings{MaxRunningPerKey: -1}, "MaxRunningPerKey"},
		{queue.QueueSettings{RateLimitPerKey: -1}, "RateLimitPerKey"},
		{queue.QueueSettings{RateLimitPerKey: 1, RatePeriodPerKey: time.Microsecond}, "RatePeriodPerKey"},
		{queue.QueueSettings{RateLimitPerKey: 1, RatePeriodPerKey: -time.Second}, "RatePeriodPerKey"},
	} {
		err := in.SetQueueSettings(e.ctx, "api", c.qs)
		require.ErrorIs(e.t, err, queue.ErrInvalidArgument, "%+v", c.qs)
		require.ErrorContains(e.t, err, c.name)
	}
	require.NoError(e.t, in.SetQueueSettings(e.ctx, "api", queue.QueueSettings{RateLimitPerKey: 3}))
	require.Equal(e.t, time.Second, e.queueStats("api").RatePeriodPerKey)

	for _, key := range []string{strings.Repeat("k", 513), "a\x00b", "bad\xff"} {
		_, err := e.q.Enqueue(e.ctx, queue.NewJob{Kind: "call", Queue: "api", PartitionKey: key})
		var ie *queue.InvalidJobError
		require.ErrorAs(e.t, err, &ie, "%q", key)
		require.Equal(e.t, "PartitionKey", ie.Field)
	}
	id := e.enqueue(queue.NewJob{Kind: "call", Queue: "api", PartitionKey: strings.Repeat("k", 512), OrderKey: "o"})
	j := e.get(id)
	require.Equal(e.t, strings.Repeat("k", 512), j.PartitionKey)
	require.Equal(e.t, "o", j.OrderKey, "independent of the ordering key")
}
