package worker_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spooljobs/spool/internal/childtest"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
	"github.com/stretchr/testify/require"
)

const (
	twoProcKind  = "twoproc.work"
	twoProcJobs  = 1000
	twoProcRound = 100
)

type twoProcArgs struct {
	N int `json:"n"`
}

// TestTwoProcessesOneFile runs two worker processes on one database file
// while this process enqueues jobs into it (a third writer). The workers
// learn of the jobs only by polling. With leases far longer than the test
// no lease expires, so every job must run exactly once, never twice and
// never not at all, and both processes must get work.
func TestTwoProcessesOneFile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "shared.db")
	logPath := filepath.Join(dir, "runs.log")

	store, err := sqlite.Open(ctx, dbPath, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	q, err := queue.New(store, queue.Options{})
	require.NoError(t, err)

	env := []string{"SPOOL_TEST_DB=" + dbPath, "SPOOL_TEST_LOG=" + logPath}
	a := childtest.Start(t, "twoproc", env...)
	b := childtest.Start(t, "twoproc", env...)
	a.Expect("ready", 30*time.Second)
	b.Expect("ready", 30*time.Second)

	doneLines := func() int {
		data, err := os.ReadFile(logPath)
		if os.IsNotExist(err) {
			return 0
		}
		require.NoError(t, err)
		return bytes.Count(data, []byte("done "))
	}
	ids := map[int64]bool{}
	for round := 0; len(ids) < twoProcJobs; round++ {
		// Alternate one transaction for the round with one per job, so the
		// parent's writes contend with the workers' leases and acks.
		if round%2 == 0 {
			jobs := make([]queue.NewJob, twoProcRound)
			for i := range jobs {
				jobs[i] = queue.NewJob{Kind: twoProcKind, Args: twoProcArgs{N: len(ids) + i}}
			}
			res, err := q.EnqueueMany(ctx, jobs)
			require.NoError(t, err)
			for _, r := range res {
				ids[r.ID] = true
			}
		} else {
			for range twoProcRound {
				r, err := q.Enqueue(ctx, queue.NewJob{Kind: twoProcKind, Args: twoProcArgs{N: len(ids)}})
				require.NoError(t, err)
				ids[r.ID] = true
			}
		}
		// Let the workers get through most of it, then enqueue the next
		// round while they still work on the rest.
		want := len(ids) - twoProcRound/2
		childtest.WaitUntil(t, 30*time.Second, fmt.Sprintf("%d jobs done", want), func() bool { return doneLines() >= want }, a, b)
	}
	require.Len(t, ids, twoProcJobs)

	childtest.WaitUntil(t, 30*time.Second, "every job done and acknowledged", func() bool {
		if doneLines() < twoProcJobs {
			return false
		}
		st, err := q.Inspector().Stats(ctx)
		require.NoError(t, err)
		for _, qs := range st.Queues {
			if qs.Pending+qs.Scheduled+qs.Running > 0 {
				return false
			}
		}
		return true
	}, a, b)
	a.CloseStdin()
	b.CloseStdin()
	a.Wait(30 * time.Second)
	b.Wait(30 * time.Second)

	// Exactly once: one start and one done per job, by the same process.
	type jobRun struct {
		startPID, donePID string
		starts, dones     int
	}
	runs := map[int64]*jobRun{}
	perPID := map[string]int{}
	data, err := os.ReadFile(logPath)
	require.NoError(t, err)
	for n, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		f := strings.Fields(line)
		require.Len(t, f, 3, "log line %d: %q", n+1, line)
		id, err := strconv.ParseInt(f[2], 10, 64)
		require.NoError(t, err, "log line %d: %q", n+1, line)
		require.True(t, ids[id], "log line %d names job %d, which was never enqueued", n+1, id)
		r := runs[id]
		if r == nil {
			r = &jobRun{}
			runs[id] = r
		}
		switch f[0] {
		case "start":
			r.starts++
			r.startPID = f[1]
			require.Equal(t, 1, r.starts, "job %d started twice (again by pid %s)", id, f[1])
		case "done":
			r.dones++
			r.donePID = f[1]
			require.Equal(t, 1, r.starts, "job %d done before it started", id)
			require.Equal(t, r.startPID, r.donePID, "job %d started by pid %s, done by pid %s", id, r.startPID, r.donePID)
			perPID[f[1]]++
		default:
			t.Fatalf("log line %d: %q", n+1, line)
		}
	}
	for id := range ids {
		r := runs[id]
		require.NotNil(t, r, "job %d never ran", id)
		require.Equal(t, 1, r.starts, "job %d: starts", id)
		require.Equal(t, 1, r.dones, "job %d: dones", id)
	}
	pidA, pidB := strconv.Itoa(a.Pid()), strconv.Itoa(b.Pid())
	t.Logf("jobs done by pid %s: %d, by pid %s: %d", pidA, perPID[pidA], pidB, perPID[pidB])
	require.Positive(t, perPID[pidA], "worker process %s handled no job", pidA)
	require.Positive(t, perPID[pidB], "worker process %s handled no job", pidB)
	require.Equal(t, twoProcJobs, perPID[pidA]+perPID[pidB])

	st, err := q.Inspector().Stats(ctx)
	require.NoError(t, err)
	for _, qs := range st.Queues {
		require.Zero(t, qs.Pending+qs.Scheduled+qs.Running+qs.Completed+qs.Cancelled+qs.Dead,
			"queue %q should be empty: %+v", qs.Name, qs)
	}
	left, err := q.Inspector().List(ctx, queue.ListFilter{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, left, "jobs left in the store (live or dead)")
}

// twoProcChild is a worker process of TestTwoProcessesOneFile. It prints
// "ready" once its pool runs and stops cleanly when its stdin ends.
func twoProcChild() error {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := sqlite.Open(ctx, os.Getenv("SPOOL_TEST_DB"), sqlite.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{Logger: logger})
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(os.Getenv("SPOOL_TEST_LOG"), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	pool, err := worker.New(q, worker.Options{
		Queues:        map[string]worker.QueueConfig{queue.DefaultQueue: {MaxWorkers: 8}},
		LeaseDuration: 30 * time.Second,
		PollInterval:  50 * time.Millisecond,
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	pid := os.Getpid()
	pool.Handle(twoProcKind, worker.JSON(func(ctx context.Context, job *queue.Job, _ twoProcArgs) error {
		if _, err := fmt.Fprintf(logFile, "start %d %d\n", pid, job.ID); err != nil {
			return err
		}
		time.Sleep(rand.N(2 * time.Millisecond)) // simulated work
		_, err := fmt.Fprintf(logFile, "done %d %d\n", pid, job.ID)
		return err
	}))
	if err := pool.Start(ctx); err != nil {
		return err
	}
	childtest.Say("ready")
	_ = childtest.AwaitClose() // until the parent closes stdin
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Stop(stopCtx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	return store.Close()
}

const (
	openChildren = 4
	openJobs     = 25
	openKind     = "open.work"
)

// TestConcurrentOpenFreshFile starts several processes that open the same
// brand-new database file at the same moment (creating it, switching it to
// WAL and migrating it), each enqueueing a few jobs. Every process must
// succeed and every job must be there: migrations are safe when processes
// start at once. A few rounds, each on a fresh file, widen the window.
func TestConcurrentOpenFreshFile(t *testing.T) {
	t.Parallel()
	for round := range 3 {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			t.Parallel()
			dbPath := filepath.Join(t.TempDir(), "fresh.db")
			children := make([]*childtest.Child, openChildren)
			for i := range children {
				children[i] = childtest.Start(t, "open", "SPOOL_TEST_DB="+dbPath)
			}
			for _, c := range children {
				c.Expect("ready", 30*time.Second)
			}
			_, err := os.Stat(dbPath)
			require.True(t, os.IsNotExist(err), "the database file exists before the children open it: %v", err)
			// Release them together: each waits for its stdin to end.
			for _, c := range children {
				c.CloseStdin()
			}
			for _, c := range children {
				c.Wait(30 * time.Second)
			}

			store, err := sqlite.Open(t.Context(), dbPath, sqlite.Options{})
			require.NoError(t, err)
			defer store.Close()
			q, err := queue.New(store, queue.Options{})
			require.NoError(t, err)
			st, err := q.Inspector().Stats(t.Context())
			require.NoError(t, err)
			require.Len(t, st.Queues, 1)
			require.Equal(t, openChildren*openJobs, st.Queues[0].Pending, "jobs enqueued by %d processes", openChildren)
			var rows, versions, newest int
			require.NoError(t, store.DB().QueryRowContext(t.Context(),
				`SELECT count(*), count(DISTINCT version), max(version) FROM spool_migrations`).Scan(&rows, &versions, &newest))
			require.Equal(t, versions, rows, "a migration was recorded more than once")
			require.Equal(t, sqlite.SchemaVersion(), newest)
		})
	}
}

// openChild is a process of TestConcurrentOpenFreshFile: it prints "ready",
// waits until its stdin ends, then opens the database and enqueues
// openJobs jobs.
func openChild() error {
	childtest.Say("ready")
	_ = childtest.AwaitClose()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, os.Getenv("SPOOL_TEST_DB"), sqlite.Options{})
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		return err
	}
	jobs := make([]queue.NewJob, openJobs)
	for i := range jobs {
		jobs[i] = queue.NewJob{Kind: openKind, Args: map[string]int{"pid": os.Getpid(), "i": i}}
	}
	if _, err := q.EnqueueMany(ctx, jobs); err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	return store.Close()
}
