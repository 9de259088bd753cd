package schedule_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
	"github.com/spooljobs/spool/sqlite"
)

// clock is a fake clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// node is one "process": a store on the shared file, its queue and a
// scheduler, all on the node's clock.
type node struct {
	store *sqlite.Store
	q     *queue.Queue
	s     *schedule.Scheduler
	clock *clock
}

// newNode opens path (created if needed) with a scheduler on clk. The
// store is closed when the test ends, unless the test closed it.
func newNode(t *testing.T, path string, clk *clock, opts schedule.Options) *node {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	q, err := queue.New(store, queue.Options{Now: clk.Now})
	require.NoError(t, err)
	s, err := schedule.New(q, opts)
	require.NoError(t, err)
	return &node{store: store, q: q, s: s, clock: clk}
}

// newAppNode is newNode on a store made with sqlite.New over the app's own
// *sql.DB, opened without spool's DSN (no _txlock=immediate).
func newAppNode(t *testing.T, path string, clk *clock) *node {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	store, err := sqlite.New(ctx, db, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	q, err := queue.New(store, queue.Options{Now: clk.Now})
	require.NoError(t, err)
	s, err := schedule.New(q, schedule.Options{})
	require.NoError(t, err)
	return &node{store: store, q: q, s: s, clock: clk}
}

func tempDB(t *testing.T) string { return filepath.Join(t.TempDir(), "spool.db") }

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// run sets the node's clock to at and runs one round, which must succeed.
func (n *node) run(t *testing.T, at time.Time) time.Time {
	t.Helper()
	n.clock.Set(at)
	next, err := n.s.RunOnce(context.Background())
	require.NoError(t, err)
	return next
}

// ticks returns the tick metadata of the jobs of kind, oldest job first.
func ticks(t *testing.T, q *queue.Queue, kind string) []string {
	t.Helper()
	jobs, err := q.Inspector().List(context.Background(), queue.ListFilter{Kind: kind, Limit: 1000})
	require.NoError(t, err)
	var out []string
	for _, j := range slices.Backward(jobs) {
		out = append(out, j.Metadata[schedule.MetadataTick])
	}
	return out
}

// collect runs n's scheduler every step from from to to and returns the
// ticks of kind's jobs.
func collect(t *testing.T, n *node, kind string, from, to time.Time, step time.Duration) []string {
	t.Helper()
	for at := from; !at.After(to); at = at.Add(step) {
		n.run(t, at)
	}
	return ticks(t, n.q, kind)
}

// reference lists the ticks robfig/cron yields for spec after from up to
// to, formatted as the scheduler's metadata (in the zone loc).
func reference(t *testing.T, spec string, loc *time.Location, from, to time.Time) []string {
	t.Helper()
	s, err := cron.ParseStandard(spec)
	require.NoError(t, err)
	var out []string
	for at := s.Next(from); !at.After(to); at = s.Next(at) {
		out = append(out, at.In(loc).Format(time.RFC3339))
	}
	return out
}

// plainStore hides every method but queue.Store's.
type plainStore struct{ queue.Store }
