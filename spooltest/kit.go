package spooltest

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/queuetest"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

// Clock is the kit's injected clock: Now reads it, Advance moves it.
// It is queuetest.Clock, so a test may share one clock between the kit and
// parts it builds itself.
type Clock = queuetest.Clock

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return queuetest.NewClock(t) }

// Options configure a Kit. The zero value is ready to use: a fresh SQLite
// file in t.TempDir() and a clock at the current time. Set Queue or Store
// to test on the app's own.
type Options struct {
	// Queue is the app's own queue, when the test builds it (say, with the
	// app's setup code). Its store's Tx assertions need a store that
	// implements queue.TxLister (package sqlite's and postgres's do), and
	// Advance moves its time only if it reads Clock: build it with
	// queue.Options{Now: clock.Now}. The kit does not close it. Defaults
	// to a new queue on a fresh SQLite file in t.TempDir(), built with
	// QueueOptions and reading Clock, which t.Cleanup closes.
	Queue *queue.Queue
	// Store is the app's own store (say, sqlite.New over the app's
	// *sql.DB), when Queue is nil: the kit builds its queue on it, with
	// QueueOptions and Clock, and does not close it. Defaults to a fresh
	// SQLite file in t.TempDir(), which t.Cleanup closes.
	Store queue.Store
	// QueueOptions are the options of the queue the kit builds when Queue
	// is nil. Their Now is replaced by the kit's clock. Their Logger
	// defaults to one that writes warnings and errors (a failed job, say)
	// to the test's log (t.Log), shown when the test fails or runs with -v.
	QueueOptions queue.Options
	// Clock is the kit's clock. Defaults to a new Clock set to Start.
	Clock *Clock
	// Start is where a new clock starts. Defaults to the current time,
	// in UTC and truncated to the second.
	Start time.Time
	// WorkerOptions are the options of the worker pools the kit builds
	// (NewPool, Work). Monotonic defaults to the kit's clock's.
	WorkerOptions worker.Options
	// Middleware wraps the handlers of the pools the kit builds, as
	// Pool.Use does, so that Work runs a handler as the app's pools run it.
	Middleware []worker.Middleware
}

// Kit is a real queue on a real store with an injected clock, and the
// assertions and runners of this package. Build one per test with New.
type Kit struct {
	q     *queue.Queue
	clock *Clock
	opts  Options
}

// New returns a kit for the test t; failures to open the store fail t.
func New(t testing.TB, opts Options) *Kit {
	t.Helper()
	if opts.Clock == nil {
		start := opts.Start
		if start.IsZero() {
			start = time.Now().UTC().Truncate(time.Second)
		}
		opts.Clock = NewClock(start)
	}
	if opts.WorkerOptions.Monotonic == nil {
		opts.WorkerOptions.Monotonic = opts.Clock.Monotonic
	}
	k := &Kit{q: opts.Queue, clock: opts.Clock, opts: opts}
	if k.q != nil {
		return k
	}
	if opts.QueueOptions.Logger == nil {
		opts.QueueOptions.Logger = slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn, ReplaceAttr: dropTime}))
	}
	store := opts.Store
	if store == nil {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "spool.db"), sqlite.Options{Logger: opts.QueueOptions.Logger})
		if err != nil {
			t.Fatalf("spooltest: open a store: %v", err)
			return nil
		}
		t.Cleanup(func() { s.Close() })
		store = s
	}
	qo := opts.QueueOptions
	qo.Now = opts.Clock.Now
	q, err := queue.New(store, qo)
	if err != nil {
		t.Fatalf("spooltest: new queue: %v", err)
		return nil
	}
	k.q = q
	return k
}

// Queue returns the kit's queue: hand it to the code under test.
func (k *Kit) Queue() *queue.Queue { return k.q }

// Store returns the queue's store.
func (k *Kit) Store() queue.Store { return k.q.Store() }

// DB returns the store's database, for the app's own tables and for the
// transactions the Tx assertions look into; nil for a store that offers
// none.
func (k *Kit) DB() *sql.DB {
	if s, ok := k.q.Store().(interface{ DB() *sql.DB }); ok {
		return s.DB()
	}
	return nil
}

// Clock returns the kit's clock.
func (k *Kit) Clock() *Clock { return k.clock }

// Now reads the kit's clock.
func (k *Kit) Now() time.Time { return k.clock.Now() }

// Advance moves the kit's clock forward by d: delays, backoffs and
// schedule ticks that fall within d become due, with no sleep. Drain and
// Work then run what became due; a scheduler fires its ticks at its next
// round (RunSchedules).
func (k *Kit) Advance(d time.Duration) { k.clock.Advance(d) }

// NewPool returns a worker pool over the kit's queue with
// Options.WorkerOptions and Options.Middleware, not started: register the
// app's handlers on it and pass it to Drain or WorkPool (or Start it for a
// test of the running pool; t.Cleanup stops it).
func (k *Kit) NewPool(t testing.TB) *worker.Pool {
	t.Helper()
	p, err := worker.New(k.q, k.opts.WorkerOptions)
	if err != nil {
		t.Fatalf("spooltest: new pool: %v", err)
	}
	p.Use(k.opts.Middleware...)
	t.Cleanup(func() { p.Stop(context.Background()) })
	return p
}

// testLog writes log records to the test's log.
type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// dropTime drops the records' time: the test's log has its own order.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
