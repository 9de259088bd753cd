package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/childtest"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// load runs producers that enqueue and consumers that lease and complete on
// store s until stop is closed; it reports the first error.
type load struct {
	pad       string        // the jobs' args: a longer pad writes more of the log per job
	work      chan struct{} // a producer enqueued: an idle consumer looks again
	enqueued  atomic.Int64
	maxLatNs  atomic.Int64
	firstErr  atomic.Pointer[error]
	wg        sync.WaitGroup
	producers int
	consumers int
}

func (l *load) fail(err error) { l.firstErr.CompareAndSwap(nil, &err) }

func (l *load) run(t *testing.T, s *sqlite.Store, stop <-chan struct{}) {
	t.Helper()
	l.start(newQueue(t, s), s, stop)
}

func (l *load) start(q *queue.Queue, s *sqlite.Store, stop <-chan struct{}) {
	ctx := context.Background()
	l.work = make(chan struct{}, 1)
	for range l.producers {
		l.wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				if _, err := q.Enqueue(ctx, queue.NewJob{Kind: "load", Args: map[string]string{"pad": l.pad}}); err != nil {
					l.fail(err)
					return
				}
				lat := time.Since(start).Nanoseconds()
				for {
					old := l.maxLatNs.Load()
					if lat <= old || l.maxLatNs.CompareAndSwap(old, lat) {
						break
					}
				}
				l.enqueued.Add(1)
				select {
				case l.work <- struct{}{}:
				default:
				}
			}
		})
	}
	for range l.consumers {
		l.wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				now := time.Now()
				res, err := s.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 50, Now: now, Until: now.Add(time.Minute), Worker: "w"})
				if err != nil {
					l.fail(err)
					return
				}
				if len(res.Jobs) == 0 {
					select {
					case <-l.work:
					case <-stop:
						return
					}
					continue
				}
				batch := make([]queue.Settlement, 0, len(res.Jobs))
				for _, j := range res.Jobs {
					batch = append(batch, queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Outcome: queue.OutcomeComplete, Now: time.Now()})
				}
				if _, err := s.Settle(ctx, nil, batch); err != nil {
					l.fail(err)
					return
				}
			}
		})
	}
}

// waitFor waits until cond holds, checking every 10 ms, for at most limit.
func waitFor(limit time.Duration, cond func() bool) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(limit); !cond() && time.Now().Before(deadline); {
		<-tick.C
	}
}

func (l *load) err() error {
	if p := l.firstErr.Load(); p != nil {
		return *p
	}
	return nil
}

// The write-ahead log stays under Options.MaxWALSize under sustained load:
// steady enqueues, leases and completions from two stores on one file (two
// writers) while readers keep reading. Before the bound, the
// log grew by ~36 MB/s at 1000 jobs/s and was never reset.
func TestWALStaysBoundedUnderSustainedLoad(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("sustained load")
	}
	// A small bound, and jobs of 2 KiB: without the bound's checkpoints,
	// 1000 jobs already take the log past it. (Not the smallest: a lease
	// of 50 such jobs writes ~150 KiB, and the bound leaves room for the
	// transactions committed past its hard mark, half of it.)
	const bound = 2 << 20
	pad := strings.Repeat("x", 2048)
	path := filepath.Join(t.TempDir(), "wal.db")
	ctx := context.Background()
	opts := sqlite.Options{MaxWALSize: bound, CheckpointInterval: 100 * time.Millisecond}
	a, err := sqlite.Open(ctx, path, opts)
	require.NoError(t, err)
	defer a.Close()
	b, err := sqlite.Open(ctx, path, opts)
	require.NoError(t, err)
	defer b.Close()

	stop := make(chan struct{})
	la := &load{producers: 4, consumers: 2, pad: pad}
	lb := &load{producers: 4, consumers: 2, pad: pad}
	la.run(t, a, stop)
	lb.run(t, b, stop)
	var readers sync.WaitGroup
	// Readers as an admin page's would be: a few, often. (A reader that
	// stays open pins the log past its bound for as long as it stays:
	// TestWALBoundDoesNotStallWritesForALongReader.)
	for range 3 {
		readers.Go(func() {
			qa := newQueue(t, a)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if _, err := qa.Inspector().Stats(ctx); err != nil {
					la.fail(err)
					return
				}
			}
		})
	}

	var peak int64
	// Until 3000 jobs went through (about 4 s here, longer under the race
	// detector on a busy machine), or 60 s.
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(10 * time.Millisecond)
	for time.Now().Before(deadline) && la.enqueued.Load()+lb.enqueued.Load() < 3000 {
		<-tick.C
		if fi, err := os.Stat(path + "-wal"); err == nil {
			peak = max(peak, fi.Size())
		}
	}
	tick.Stop()
	close(stop)
	la.wg.Wait()
	lb.wg.Wait()
	readers.Wait()
	require.NoError(t, la.err())
	require.NoError(t, lb.err())
	t.Logf("enqueued %d + %d jobs; WAL peak %.1f MiB (bound %d MiB)", la.enqueued.Load(), lb.enqueued.Load(), float64(peak)/(1<<20), bound>>20)
	require.GreaterOrEqual(t, la.enqueued.Load()+lb.enqueued.Load(), int64(1000), "the load must have run")
	// The readers' transactions are short, but a reader descheduled on a
	// machine loaded past its cores (go test runs the admin's browser, the
	// crash tests and this package at once on two cores) holds its snapshot
	// for as long, and a pinned log is the documented exception to the bound
	// (README, "A bounded write-ahead log"): a full CI run saw 2.4 MiB,
	// against 0.6-0.8 MiB on a quiet machine. Without the bound 1000 of
	// these jobs take the log past it (see above), so the 3000 here take it
	// past twice the bound: that still tells the two apart.
	require.LessOrEqual(t, peak, int64(2*bound), "WAL peak")
}

// loadResult is what a loader child prints.
type loadResult struct {
	Enqueued int64  `json:"enqueued"`
	MaxNs    int64  `json:"max_ns"`
	Err      string `json:"err"`
	Busy     bool   `json:"busy"`
	// A prober's: its probes, and the most jobs other processes committed
	// while one probe's Enqueue waited for the write lock.
	Probes  int64 `json:"probes"`
	MaxSkip int64 `json:"max_skip"`
}

// runLoader runs in a child process (roles "loader" and "prober"): it
// opens the store (busy timeout 1.5 s), says "ready", waits for a line on
// stdin, runs 8 producers and 2 consumers (or, as a prober, probes) until
// the next line (or the end of stdin), and prints its loadResult.
func runLoader(path string, prober bool) error {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, sqlite.Options{BusyTimeout: 1500 * time.Millisecond})
	if err != nil {
		return err
	}
	defer s.Close()
	q, err := queue.New(s, queue.Options{})
	if err != nil {
		return err
	}
	childtest.Say("ready")
	if _, err := childtest.ReadLine(); err != nil {
		return err
	}
	stop := make(chan struct{})
	go func() {
		childtest.ReadLine()
		close(stop)
	}()
	if prober {
		return json.NewEncoder(os.Stdout).Encode(probe(q, s, stop))
	}
	l := &load{producers: 8, consumers: 2}
	l.start(q, s, stop)
	<-stop
	l.wg.Wait()
	res := loadResult{Enqueued: l.enqueued.Load(), MaxNs: l.maxLatNs.Load()}
	if err := l.err(); err != nil {
		res.Err, res.Busy = err.Error(), errors.Is(err, queue.ErrBusy)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// probe enqueues one job at a time until stop is closed, and measures each Enqueue's
// wait in jobs rather than time: the newest job id before the call (ids
// only grow) against the id it got tells how many jobs other processes
// committed while it waited. That count does not depend on how fast this
// machine is today.
func probe(q *queue.Queue, s *sqlite.Store, stop <-chan struct{}) loadResult {
	ctx := context.Background()
	var res loadResult
	for {
		select {
		case <-stop:
			return res
		default:
		}
		var before int64
		if err := s.DB().QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'spool_jobs'`).Scan(&before); err != nil {
			res.Err = err.Error()
			return res
		}
		start := time.Now()
		r, err := q.Enqueue(ctx, queue.NewJob{Kind: "probe", Queue: "probe"})
		if err != nil {
			res.Err, res.Busy = err.Error(), errors.Is(err, queue.ErrBusy)
			return res
		}
		res.MaxNs = max(res.MaxNs, time.Since(start).Nanoseconds())
		res.MaxSkip = max(res.MaxSkip, r.ID-before-1)
		res.Probes++
		res.Enqueued++
	}
}

// Processes on one file share the writes fairly: two loaders (8
// producers and 2 consumers each) and a prober that enqueues one job at a
// time. Before the writers' turn, one process's producers stalled together
// for seconds (SQLite's busy handler sleeps up to 100 ms between tries, and
// the other writer re-took the lock within microseconds of each commit),
// one process did several times the other's enqueues, and a 1.5 s busy
// timeout turned into queue.ErrBusy. The prober's measure is a count, not
// a time: while one of its Enqueue calls waits, the loaders may commit
// about one batch each, not thousands of jobs.
func TestProcessesShareWritesFairly(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("three processes under contention for a few seconds")
	}
	path := filepath.Join(t.TempDir(), "fair.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	children := make([]*childtest.Child, 3)
	for i := range children {
		role := "loader"
		if i == 2 {
			role = "prober"
		}
		children[i] = childtest.Start(t, role, pathEnv+"="+path)
		children[i].Expect("ready", time.Minute)
	}
	for _, c := range children {
		c.Say("go")
	}
	// Until 15 000 jobs went through (about 1 s here), or a minute: the
	// newest job id counts every process's.
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	waitFor(time.Minute, func() bool {
		var seq int64
		err := db.QueryRow(`SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'spool_jobs'`).Scan(&seq)
		return err != nil || seq >= 15000
	})
	results := make([]loadResult, len(children))
	for _, c := range children {
		c.Say("stop")
	}
	for i, c := range children {
		require.NoError(t, json.Unmarshal([]byte(c.Line(time.Minute)), &results[i]))
		c.Wait(time.Minute)
	}
	n0, n1 := results[0].Enqueued, results[1].Enqueued
	m0, m1 := time.Duration(results[0].MaxNs), time.Duration(results[1].MaxNs)
	p := results[2]
	t.Logf("loaders enqueued %d and %d, slowest Enqueue %s and %s; prober: %d probes, slowest %s, at most %d jobs of others committed during one probe",
		n0, n1, m0, m1, p.Probes, time.Duration(p.MaxNs), p.MaxSkip)
	for i, r := range results {
		require.False(t, r.Busy, "process %d gave up waiting for the write lock: %s", i, r.Err)
		require.Empty(t, r.Err, "process %d", i)
	}
	require.Greater(t, min(n0, n1), int64(0))
	require.Greater(t, p.Probes, int64(0))
	require.Less(t, float64(max(n0, n1))/float64(min(n0, n1)), 2.0, "throughput ratio of the loaders")
	// A batch holds at most one Enqueue per producer: 8 per loader, so
	// about 16 per round of the turn, a few hundred on a loaded machine; 2000 leaves room (before the turn: 16 000).
	require.LessOrEqual(t, p.MaxSkip, int64(2000), "jobs the other processes committed while one probe waited")
}
