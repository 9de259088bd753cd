package worker

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/queuetest"
	"github.com/spooljobs/spool/sqlite"
)

// The fetcher's decisions, one runOnce at a time, on a real store with an
// injected clock and no goroutines: the pool is never started, and the
// test plays the workers (reading the runner's jobs, calling finished).

// failingStore is a real store whose Lease can be made to fail.
type failingStore struct {
	*sqlite.Store
	leaseErr error
}

func (s *failingStore) Lease(ctx context.Context, p queue.LeaseParams) (queue.LeaseResult, error) {
	if s.leaseErr != nil {
		return queue.LeaseResult{}, s.leaseErr
	}
	return s.Store.Lease(ctx, p)
}

type fetchTest struct {
	t     *testing.T
	store *failingStore
	q     *queue.Queue
	clock *queuetest.Clock
	f     *fetcher
}

// newFetchTest returns a fetcher for the default queue, configured by cfg,
// of a pool that is not started, polling every poll.
func newFetchTest(t *testing.T, cfg QueueConfig, poll time.Duration) *fetchTest {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "spool.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	fs := &failingStore{Store: st}
	clock := queuetest.NewClock(time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC))
	q, err := queue.New(fs, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	p, err := New(q, Options{
		Queues:       map[string]QueueConfig{queue.DefaultQueue: cfg},
		PollInterval: poll,
		Monotonic:    clock.Monotonic,
	})
	require.NoError(t, err)
	cfg = p.opts.Queues[queue.DefaultQueue]
	r := &queueRunner{name: queue.DefaultQueue, cfg: cfg,
		jobs: make(chan *queue.Job, cfg.MaxWorkers), done: make(chan struct{}, cfg.MaxWorkers)}
	return &fetchTest{t: t, store: fs, q: q, clock: clock, f: newFetcher(p, r)}
}

func (ft *fetchTest) enqueue(n int, j queue.NewJob) {
	ft.t.Helper()
	j.Kind = "job"
	for range n {
		_, err := ft.q.Enqueue(context.Background(), j)
		require.NoError(ft.t, err)
	}
}

// step runs the fetcher once and checks its move and look-again time.
func (ft *fetchTest) step(want move, wantLook time.Duration) {
	ft.t.Helper()
	m, d := ft.f.runOnce()
	require.Equal(ft.t, want, m, "move")
	require.Equal(ft.t, wantLook, d, "look again after")
}

// handed takes the jobs the fetcher handed to the workers since the last
// call and returns how many there were.
func (ft *fetchTest) handed() int {
	return drainJobs(ft.f.r.jobs)
}

func drainJobs(ch chan *queue.Job) int {
	n := 0
	for {
		select {
		case <-ch:
			n++
		default:
			return n
		}
	}
}

// An idle queue is leased for all free slots in one call; with no free
// slot, or nothing known to be ready, the fetcher does nothing.
func TestFetcherLeasesAllFreeSlotsAtOnce(t *testing.T) {
	t.Parallel()
	ft := newFetchTest(t, QueueConfig{MaxWorkers: 4}, time.Hour)
	ft.enqueue(6, queue.NewJob{})
	ft.step(moveLease, time.Hour)
	require.Equal(t, 4, ft.handed())
	require.Equal(t, 4, ft.f.inflight)
	require.True(t, ft.f.more, "a full batch: there may be more")
	ft.step(moveIdle, 0) // no free slot

	ft.f.finished(4)
	ft.step(moveLease, time.Hour)
	require.Equal(t, 2, ft.handed())
	require.False(t, ft.f.more, "a short batch: the queue is drained")
	ft.step(moveIdle, 0)
	ft.f.woken() // a poll tick or a wake-up: look again
	ft.step(moveLease, time.Hour)
	require.Zero(t, ft.handed())
}

// With few slots free while others run, the fetcher gathers freed slots
// (up to gatherWait) instead of a lease per slot; enough free slots, or
// the end of the wait, make it lease.
func TestFetcherGathersFreedSlotsUnderLoad(t *testing.T) {
	t.Parallel()
	ft := newFetchTest(t, QueueConfig{MaxWorkers: 4}, time.Hour) // minBatch 2
	ft.enqueue(10, queue.NewJob{})
	ft.step(moveLease, time.Hour)
	require.Equal(t, 4, ft.handed())

	ft.f.finished(1)
	ft.step(moveGather, gatherWait)
	ft.step(moveIdle, 0) // gathering already
	ft.f.finished(1)     // two free: worth a lease
	ft.step(moveLease, time.Hour)
	require.Equal(t, 2, ft.handed())
	require.Equal(t, gatherIdle, ft.f.gather)

	ft.f.finished(1)
	ft.step(moveGather, gatherWait)
	ft.f.gatherEnded() // nothing more freed within gatherWait
	ft.step(moveLease, time.Hour)
	require.Equal(t, 1, ft.handed())
	require.Equal(t, 4, ft.f.inflight)
}

// A lease that finds only scheduled jobs looks again at the earliest due
// time, not at the next poll.
func TestFetcherLooksAgainWhenScheduledJobIsDue(t *testing.T) {
	t.Parallel()
	ft := newFetchTest(t, QueueConfig{MaxWorkers: 4}, time.Hour)
	ft.enqueue(1, queue.NewJob{Delay: 3 * time.Second})
	ft.step(moveLease, 3*time.Second)
	require.Zero(t, ft.handed())
	ft.clock.Advance(3 * time.Second)
	ft.f.woken() // the look-again timer
	ft.step(moveLease, time.Hour)
	require.Equal(t, 1, ft.handed())
}

// A paused queue leases nothing; once resumed, the next look leases.
func TestFetcherLeasesNothingFromPausedQueue(t *testing.T) {
	t.Parallel()
	ft := newFetchTest(t, QueueConfig{MaxWorkers: 4}, time.Hour)
	ctx := context.Background()
	ft.enqueue(2, queue.NewJob{})
	require.NoError(t, ft.q.Inspector().Pause(ctx, queue.DefaultQueue))
	ft.step(moveLease, time.Hour)
	require.Zero(t, ft.handed())
	ft.step(moveIdle, 0)
	require.NoError(t, ft.q.Inspector().Resume(ctx, queue.DefaultQueue))
	ft.f.woken() // the store wakes the queue on resume
	ft.step(moveLease, time.Hour)
	require.Equal(t, 2, ft.handed())
}

// The rate limit spends a token per job leased: past the burst, the
// fetcher leases nothing and looks again when the next token is due.
func TestFetcherRateLimitWaitsForTokens(t *testing.T) {
	t.Parallel()
	ft := newFetchTest(t, QueueConfig{MaxWorkers: 10, RateLimit: 2, Burst: 2}, time.Hour)
	ft.enqueue(5, queue.NewJob{})
	ft.step(moveLease, time.Hour)
	require.Equal(t, 2, ft.handed(), "the burst")
	require.True(t, ft.f.more)
	ft.step(moveLease, 500*time.Millisecond) // no token: one comes in 1/2 s
	require.Zero(t, ft.handed())
	ft.clock.Advance(500 * time.Millisecond)
	ft.f.woken()
	ft.step(moveLease, time.Hour)
	require.Equal(t, 1, ft.handed())
}

// A failing store is leased from with a doubling back-off on the
// monotonic clock; in between, wake-ups do not lease. A lease that works
// ends the episode.
func TestFetcherBacksOffFromFailingStore(t *testing.T) {
	t.Parallel()
	const poll = 100 * time.Millisecond
	ft := newFetchTest(t, QueueConfig{MaxWorkers: 4}, poll)
	ft.enqueue(1, queue.NewJob{})
	ft.store.leaseErr = fmt.Errorf("damaged page: %w", queue.ErrCorrupt)
	ft.step(moveLease, poll) // fails: no lease for a second
	require.Equal(t, time.Second, ft.f.fail.delay)
	ft.f.woken()
	ft.step(moveBackOff, poll) // the look-again time is at most a poll
	require.False(t, ft.f.more)
	ft.clock.Advance(950 * time.Millisecond)
	ft.f.woken()
	ft.step(moveBackOff, 50*time.Millisecond)

	ft.clock.Advance(50 * time.Millisecond)
	ft.f.woken()
	ft.step(moveLease, poll) // fails again: the wait doubles
	require.Equal(t, 2*time.Second, ft.f.fail.delay)

	ft.store.leaseErr = nil
	ft.clock.Advance(2 * time.Second)
	ft.f.woken()
	ft.step(moveLease, poll)
	require.Equal(t, 1, ft.handed())
	require.Zero(t, ft.f.fail.n, "the episode ended")
}

// A busy database (another writer held the lock past the busy timeout)
// is tried again after PollInterval, without doubling.
func TestFetcherRetriesBusyStoreAfterPollInterval(t *testing.T) {
	t.Parallel()
	ft := newFetchTest(t, QueueConfig{MaxWorkers: 4}, time.Hour)
	ft.store.leaseErr = fmt.Errorf("locked: %w", queue.ErrBusy)
	for range 3 {
		ft.step(moveLease, time.Hour)
		ft.f.woken()
		ft.step(moveBackOff, time.Hour)
		ft.clock.Advance(time.Hour)
		ft.f.woken()
	}
	require.Equal(t, 3, ft.f.fail.n)
}

// A lease the queue's shared RateLimit cut short looks again when the
// next token is due, not at the next poll; under MaxRunning the runner is
// marked so that settles wake it.
func TestFetcherFollowsSharedLimits(t *testing.T) {
	t.Parallel()
	ft := newFetchTest(t, QueueConfig{MaxWorkers: 4}, time.Hour)
	in := ft.q.Inspector()
	require.NoError(t, in.SetQueueSettings(context.Background(), queue.DefaultQueue, queue.QueueSettings{RateLimit: 2, RatePeriod: time.Minute}))
	ft.enqueue(6, queue.NewJob{})
	ft.step(moveLease, 30*time.Second+time.Microsecond) // two of four: the next token in 30s
	require.Equal(t, 2, ft.handed())
	require.False(t, ft.f.r.limited.Load(), "no MaxRunning")

	require.NoError(t, in.SetQueueSettings(context.Background(), queue.DefaultQueue, queue.QueueSettings{MaxRunning: 3}))
	ft.f.woken()
	ft.step(moveLease, time.Hour)
	require.Equal(t, 1, ft.handed(), "three running at most")
	require.True(t, ft.f.r.limited.Load(), "settles wake the fetcher")
}
