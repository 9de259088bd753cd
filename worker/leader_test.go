package worker_test

// One pool of those sharing a store runs the maintenance rounds, elected
// through the database (queue.Leader), and hands over when it stops or
// its host dies. The pools tick in real time (a short MaintenanceInterval)
// but the election's terms run on the injected clock, which only the test
// moves: nothing sleeps, and a term never ends unless the test says so.

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/queuetest"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// leaderStore is what the cases need of a backend: a store that elects.
type leaderStore interface {
	queue.Store
	queue.Leader
}

// roundCounter counts a host's maintenance rounds: each round asks Lead,
// and each round that maintains goes on with the rescuer's Expired.
type roundCounter struct {
	leaderStore
	elections atomic.Int64
	rounds    atomic.Int64
}

func (c *roundCounter) Lead(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	defer c.elections.Add(1)
	return c.leaderStore.Lead(ctx, name, holder, now, ttl)
}

func (c *roundCounter) Expired(ctx context.Context, now time.Time, limit int) ([]*queue.Job, error) {
	c.rounds.Add(1)
	return c.leaderStore.Expired(ctx, now, limit)
}

// leaderBackends open stores on one database, as separate hosts do: each
// call opens another store on the same database as the first.
var leaderBackends = []struct {
	name string
	open func(t *testing.T) func() leaderStore
}{
	{"postgres", func(t *testing.T) func() leaderStore {
		url := pgtest.URL(t)
		schema := pgtest.Schema(t, url)
		return func() leaderStore {
			s, err := postgres.Open(context.Background(), url, postgres.Options{Schema: schema, MaxConns: 4})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		}
	}},
	{"sqlite", func(t *testing.T) func() leaderStore {
		path := filepath.Join(t.TempDir(), "spool.db")
		return func() leaderStore {
			s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		}
	}},
}

// host is one pool on its own store, counting its maintenance rounds.
type host struct {
	store *roundCounter
	pool  *worker.Pool
}

const leaderTick = 5 * time.Millisecond

func startHost(t *testing.T, s leaderStore, clock *queuetest.Clock) *host {
	t.Helper()
	c := &roundCounter{leaderStore: s}
	q, err := queue.New(c, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	p, err := worker.New(q, worker.Options{PollInterval: time.Hour, LeaseDuration: time.Minute, MaintenanceInterval: leaderTick})
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background()))
	t.Cleanup(func() { p.Stop(context.Background()) })
	return &host{store: c, pool: p}
}

// maintains waits until h has run n more maintenance rounds.
func (h *host) maintains(t *testing.T, n int64) {
	t.Helper()
	from := h.store.rounds.Load()
	require.Eventually(t, func() bool { return h.store.rounds.Load() >= from+n }, 10*time.Second, time.Millisecond,
		"the pool never ran %d maintenance rounds", n)
	require.True(t, h.pool.Leading())
}

// skips waits until h has lost n more elections, and checks that it ran
// no maintenance round.
func (h *host) skips(t *testing.T, n int64) {
	t.Helper()
	from := h.store.elections.Load()
	require.Eventually(t, func() bool { return h.store.elections.Load() >= from+n }, 10*time.Second, time.Millisecond,
		"the pool never asked to lead %d times", n)
	require.Zero(t, h.store.rounds.Load(), "a pool that does not lead skips every round")
	require.False(t, h.pool.Leading())
}

// Two pools: one maintains, the other skips every round; stopping the
// leader resigns, and the other takes over at its next round.
func TestLeaderOnePoolMaintainsStopHandsOver(t *testing.T) {
	t.Parallel()
	for _, b := range leaderBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			open := b.open(t)
			clock := queuetest.NewClock(time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC))
			a, c := startHost(t, open(), clock), startHost(t, open(), clock)
			require.Eventually(t, func() bool { return a.pool.Leading() || c.pool.Leading() }, 10*time.Second, time.Millisecond)
			leader, other := a, c
			if c.pool.Leading() {
				leader, other = c, a
			}
			leader.maintains(t, 10)
			other.skips(t, 10)
			leader.maintains(t, 1)

			require.NoError(t, leader.pool.Stop(context.Background()))
			require.False(t, leader.pool.Leading())
			other.maintains(t, 3) // the term has not ended on the clock: only the resignation frees it
		})
	}
}

// A leader that dies without resigning (its host lost power) holds the
// role until its term ends; then a pool takes over, within the term of
// two rounds the pools grant.
func TestLeaderDeadHolderExpires(t *testing.T) {
	t.Parallel()
	for _, b := range leaderBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			open := b.open(t)
			clock := queuetest.NewClock(time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC))
			dead := open()
			ok, err := dead.Lead(context.Background(), "maintenance", "a dead host", clock.Now(), 2*leaderTick)
			require.NoError(t, err)
			require.True(t, ok)

			h := startHost(t, open(), clock)
			// The pool's rounds run and lose the election (the clock stands
			// still, so the dead host's term never ends) ...
			h.skips(t, 5)
			// ... until the clock passes it.
			clock.Advance(2*leaderTick + time.Microsecond)
			h.maintains(t, 3)
		})
	}
}

// expiredCounter hides every optional interface of its store (queue.Leader
// among them) and counts the rescuer's calls.
type expiredCounter struct {
	queue.Store
	rounds atomic.Int64
}

func (c *expiredCounter) Expired(ctx context.Context, now time.Time, limit int) ([]*queue.Job, error) {
	c.rounds.Add(1)
	return c.Store.Expired(ctx, now, limit)
}

// On a store that elects no leader, every pool maintains, as before
// leaders: maintenance is safe concurrently.
func TestLeaderlessStoreEveryPoolMaintains(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "spool.db")
	clock := queuetest.NewClock(time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC))
	var counters []*expiredCounter
	for range 2 {
		s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		c := &expiredCounter{Store: s}
		counters = append(counters, c)
		q, err := queue.New(c, queue.Options{Now: clock.Now})
		require.NoError(t, err)
		p, err := worker.New(q, worker.Options{PollInterval: time.Hour, LeaseDuration: time.Minute, MaintenanceInterval: leaderTick})
		require.NoError(t, err)
		require.NoError(t, p.Start(context.Background()))
		t.Cleanup(func() { p.Stop(context.Background()) })
		require.Eventually(t, p.Leading, 10*time.Second, time.Millisecond, "a pool without election maintains")
	}
	for _, c := range counters {
		require.Eventually(t, func() bool { return c.rounds.Load() >= 3 }, 10*time.Second, time.Millisecond)
	}
}
