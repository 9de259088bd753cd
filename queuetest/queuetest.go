// Package queuetest is the conformance suite for queue.Store backends: every
// backend runs the same cases, so a second backend (Postgres) behaves as
// the first. It checks the promises of queue.Store's documentation, and of
// queue.TopicStore, queue.ScheduleStore, queue.Leader and queue.ProcessStore
// for a store that implements them (their cases skip otherwise). A
// backend's test calls Run with a function that opens a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		queuetest.Run(t, func(t *testing.T) queuetest.Backend {
//			s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "q.db"), sqlite.Options{})
//			...
//			return queuetest.Backend{Store: s, DB: s.DB()}
//		})
//	}
//
// The suite drives time through an injected clock; it never sleeps.
package queuetest

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Backend is a fresh store under test.
type Backend struct {
	// Store is the backend, empty.
	Store queue.Store
	// DB is a handle on the store's database, for the Tx twins' cases.
	DB *sql.DB
	// Peer opens another store on the same database, as a second process
	// would, for the cases of limits shared by every process. The suite
	// closes it.
	Peer func(t *testing.T) queue.Store
	// OutputRows counts the rows the store keeps job output and progress
	// in, for the case that they go with their job: Get cannot tell an
	// orphan row (IDs are never reused), so only a count can. Nil skips it.
	OutputRows func(t *testing.T) int
}

// Clock is a settable clock for tests. Besides the wall reading (Now) it
// keeps a monotonic one (Monotonic), for code that tells a step of the wall
// clock from time passing: Advance moves both, Set moves only the wall
// clock, as an operator or NTP stepping the system clock does.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	mono time.Duration
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Monotonic returns the time that passed on the clock since NewClock: the
// sum of every Advance, unmoved by Set.
func (c *Clock) Monotonic() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

// Advance moves the clock forward by d: time passes.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.mono += d
}

// Set sets the wall clock without moving Monotonic: a clock step.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// env is one case's store, queue and clock.
type env struct {
	t     *testing.T
	ctx   context.Context
	store queue.Store
	db    *sql.DB
	q     *queue.Queue
	clock *Clock
	// open opens another fresh store, for cases that need a second
	// database (a foreign transaction).
	open func(t *testing.T) Backend
	// peer opens another store on the same database (Backend.Peer).
	peer func(t *testing.T) queue.Store
	// outputRows counts the store's output rows (Backend.OutputRows).
	outputRows func(t *testing.T) int
	// seq is the last number unique returned.
	seq int
}

// t0 is the suite's start time: a fixed instant, so failures replay.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, open func(t *testing.T) Backend) *env {
	t.Helper()
	b := open(t)
	t.Cleanup(func() { b.Store.Close() })
	clock := NewClock(t0)
	q, err := queue.New(b.Store, queue.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: context.Background(), store: b.Store, db: b.DB, q: q, clock: clock, open: open, peer: b.Peer, outputRows: b.OutputRows}
}

// testCase is one promise a backend keeps, named for it.
type testCase struct {
	name string
	fn   func(*env)
}

// area is the cases of one part of the contract; each file of the suite
// holds one or two.
type area struct {
	name  string
	cases []testCase
}

// Run runs every conformance case against stores made by open, each on a
// fresh store, as subtests named Area/Promise (such as
// "OrderKey/NextRunsAfterHolderCompletes"). Cases for an optional interface
// (queue.TopicStore, queue.ScheduleStore, queue.Leader) skip, saying so,
// when the store does not implement it.
func Run(t *testing.T, open func(t *testing.T) Backend) {
	areas := []area{
		enqueueArea, uniqueKeyArea, txArea, leaseArea, expiryArea, settleArea, orderKeyArea,
		deadArea, cancelArea, runNowArea, inspectArea, queueArea, statsArea, topicArea, scheduleArea,
		wakeArea, queueAPIArea, leaderArea, processArea,
		outputArea, metricsArea, uniqueArea, retentionArea, depsArea, batchArea, limitsArea,
	}
	for _, a := range areas {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range a.cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.fn(newEnv(t, open))
				})
			}
		})
	}
}
