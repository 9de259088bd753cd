package worker_test

import (
	"bufio"
	"context"
	"errors"
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
	"github.com/spooljobs/spool/worker"
	"github.com/stretchr/testify/require"
)

const (
	crashKind  = "crash.work"
	crashJobs  = 3000
	crashKills = 5
	finalRun   = "final"
)

type crashArgs struct {
	Seq int `json:"seq"`
}

// TestCrashSafety kills a worker process with SIGKILL at random moments
// while it works a few thousand jobs, several times, then lets a last run
// finish. Every job must complete, none may be lost or die, and a job may
// run more than once only because a kill interrupted it: every start of a
// job but its last happened in a run that was killed, and a job the store
// acknowledged (deleted) before a kill never starts again. The kill points
// come from a logged seed (SPOOL_CRASH_SEED replays them). It runs on
// SQLite and on PostgreSQL.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	onBothBackends(t, "crash.db", testCrashSafety)
}

func testCrashSafety(t *testing.T, db crashDB) {
	seed := testSeed(t, "SPOOL_CRASH_SEED", "the kill points")
	rng := rand.New(rand.NewPCG(seed, 0x5b001))

	logPath := filepath.Join(t.TempDir(), "runs.log")
	seqOf := enqueueCrashJobs(t, db)

	env := func(run string) []string {
		return append(db.Env(), "SPOOL_TEST_LOG="+logPath, "SPOOL_TEST_RUN="+run)
	}
	killed := map[string]bool{}
	// ackedAt[id] is the log's length when a look at the store after a
	// kill found job id gone: acknowledged. It must never start again.
	ackedAt := map[int64]int{}
	unacked := 0 // handler finished in a killed run, acknowledgement lost
	for i := 1; i <= crashKills; i++ {
		run := fmt.Sprintf("k%d", i)
		base := countLines(t, logPath)
		// Some progress since the child started, plus a random amount more
		// (up to about a second of work under -race). With 32 handlers
		// busy the kill lands in the middle of work. Five kills use at most
		// 4700 of the 6000+ lines the jobs write: every target is reached.
		target := base + 40 + rng.IntN(900)
		start := time.Now()
		c := childtest.Start(t, "crash", env(run)...)
		childtest.WaitUntil(t, 30*time.Second, fmt.Sprintf("run %s to write log line %d", run, target),
			func() bool { return countLines(t, logPath) >= target }, c)
		db.Kill(t, c)
		killed[run] = true
		lines := countLines(t, logPath)
		t.Logf("run %s: SIGKILL after %s at log line %d (run started at line %d)",
			run, time.Since(start).Round(time.Millisecond), lines, base)

		// The store as the kill left it: a job that is gone was
		// acknowledged, so a handler must have finished it.
		live := liveJobs(t, db)
		soFar := readCrashLog(t, logPath, seqOf)
		for id := range seqOf {
			r := soFar[id]
			if live[id] {
				if r != nil && len(r.done) > 0 && r.done[len(r.done)-1].run == run {
					unacked++
				}
				continue
			}
			if _, ok := ackedAt[id]; !ok {
				require.True(t, r != nil && len(r.done) > 0,
					"after the kill of run %s job %d is gone from the store, but no handler finished it: lost", run, id)
				ackedAt[id] = lines
			}
		}
	}

	start := time.Now()
	final := childtest.Start(t, "crash", append(env(finalRun), "SPOOL_TEST_FINAL=1")...)
	final.Wait(60 * time.Second)
	t.Logf("run %s: finished the rest in %s", finalRun, time.Since(start).Round(time.Millisecond))

	// The store is empty: every job completed (and was deleted), none dead.
	store := db.MustOpen(t, openOpts{})
	q, err := queue.New(store, queue.Options{})
	require.NoError(t, err)
	st, err := q.Inspector().Stats(t.Context())
	require.NoError(t, err)
	for _, qs := range st.Queues {
		require.Zero(t, qs.Pending+qs.Scheduled+qs.Running+qs.Completed+qs.Cancelled+qs.Dead,
			"queue %q should hold no jobs after the final run: %+v", qs.Name, qs)
	}
	left, err := q.Inspector().List(t.Context(), queue.ListFilter{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, left, "jobs left in the store (live or dead)")

	// What the handlers did, in order (O_APPEND writes survive SIGKILL).
	runs := readCrashLog(t, logPath, seqOf)
	twice, interrupted, maxStarts := 0, 0, 0
	for id := range seqOf {
		r := runs[id]
		require.NotNil(t, r, "job %d never started: lost", id)
		require.NotEmpty(t, r.done, "job %d never completed: lost (%s)", id, r)
		seen := map[string]bool{}
		for _, e := range r.starts {
			require.False(t, seen[e.run], "job %d started twice in run %s (%s): it ran again without a kill", id, e.run, r)
			seen[e.run] = true
		}
		for _, e := range r.starts[:len(r.starts)-1] {
			require.True(t, killed[e.run], "job %d ran again after run %s, which was not killed (%s)", id, e.run, r)
		}
		last := r.starts[len(r.starts)-1]
		require.Equal(t, last.run, r.done[len(r.done)-1].run, "job %d: its last start never finished (%s)", id, r)
		if at, ok := ackedAt[id]; ok {
			require.Less(t, last.line, at, "job %d started again after it was acknowledged (gone from the store at log line %d): %s", id, at, r)
		}
		if len(r.starts) > 1 {
			twice++
		}
		maxStarts = max(maxStarts, len(r.starts))
		for _, e := range r.starts {
			if !r.doneIn(e.run) {
				interrupted++ // a kill stopped its handler mid-work
			}
		}
	}
	t.Logf("%d jobs, %d kills: %d jobs ran more than once (at most %d times): %d handler runs cut short by a kill, "+
		"%d finished handler runs whose acknowledgement a kill lost", len(seqOf), crashKills, twice, maxStarts, interrupted, unacked)
	require.Positive(t, interrupted, "no kill interrupted a running job: the test proved nothing")
	require.Positive(t, twice, "no job ran twice: the kills never interrupted work")
}

// enqueueCrashJobs creates the database with crashJobs jobs and returns
// their sequence numbers by job ID.
func enqueueCrashJobs(t *testing.T, db crashDB) map[int64]int {
	t.Helper()
	ctx := t.Context()
	store, err := db.Open(ctx, openOpts{})
	require.NoError(t, err)
	q, err := queue.New(store, queue.Options{})
	require.NoError(t, err)
	seqOf := make(map[int64]int, crashJobs)
	const batch = 500
	for first := 0; first < crashJobs; first += batch {
		jobs := make([]queue.NewJob, 0, batch)
		for seq := first; seq < min(first+batch, crashJobs); seq++ {
			// Kills count as failed attempts: give every job plenty.
			jobs = append(jobs, queue.NewJob{Kind: crashKind, Args: crashArgs{Seq: seq}, MaxAttempts: 1000})
		}
		res, err := q.EnqueueMany(ctx, jobs)
		require.NoError(t, err)
		for i, r := range res {
			require.False(t, r.Duplicate)
			seqOf[r.ID] = first + i
		}
	}
	require.Len(t, seqOf, crashJobs)
	require.NoError(t, store.Close())
	return seqOf
}

// jobRuns is what the log says about one job: the handler runs that
// started it and those that finished it, in order.
type jobRuns struct {
	starts, done []logEvent
}

// logEvent is one log line: the run that wrote it and its line number.
type logEvent struct {
	run  string
	line int
}

func (r *jobRuns) doneIn(run string) bool {
	for _, e := range r.done {
		if e.run == run {
			return true
		}
	}
	return false
}

func (r *jobRuns) String() string {
	var b strings.Builder
	for i, list := range [][]logEvent{r.starts, r.done} {
		b.WriteString([]string{"started", "; finished"}[i])
		for _, e := range list {
			fmt.Fprintf(&b, " %s@%d", e.run, e.line)
		}
	}
	return b.String()
}

// liveJobs returns the IDs of the jobs in the store, which must hold no
// dead job.
func liveJobs(t *testing.T, db crashDB) map[int64]bool {
	t.Helper()
	store, err := db.Open(t.Context(), openOpts{ReadOnly: true})
	require.NoError(t, err)
	defer store.Close()
	q, err := queue.New(store, queue.Options{})
	require.NoError(t, err)
	live := map[int64]bool{}
	for before := int64(0); ; {
		page, err := q.Inspector().List(t.Context(), queue.ListFilter{Limit: 1000, BeforeID: before})
		require.NoError(t, err)
		for _, j := range page {
			require.NotEqual(t, queue.StateDead, j.State, "job %d died: %s", j.ID, j.DeadReason)
			live[j.ID] = true
		}
		if len(page) < 1000 {
			return live
		}
		before = page[len(page)-1].ID
	}
}

// readCrashLog parses the lines "start|done <run> <jobID> <seq>" and checks
// that each names an enqueued job with its own payload, and that a done
// follows a start of the same run.
func readCrashLog(t *testing.T, path string, seqOf map[int64]int) map[int64]*jobRuns {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	runs := map[int64]*jobRuns{}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		fields := strings.Fields(sc.Text())
		require.Len(t, fields, 4, "log line %d: %q", n, sc.Text())
		id, err := strconv.ParseInt(fields[2], 10, 64)
		require.NoError(t, err, "log line %d: %q", n, sc.Text())
		seq, err := strconv.Atoi(fields[3])
		require.NoError(t, err, "log line %d: %q", n, sc.Text())
		want, ok := seqOf[id]
		require.True(t, ok, "log line %d names job %d, which was never enqueued", n, id)
		require.Equal(t, want, seq, "log line %d: job %d's payload has the wrong sequence number", n, id)
		r := runs[id]
		if r == nil {
			r = &jobRuns{}
			runs[id] = r
		}
		e := logEvent{run: fields[1], line: n}
		switch fields[0] {
		case "start":
			r.starts = append(r.starts, e)
		case "done":
			require.NotEmpty(t, r.starts, "log line %d: job %d done before any start", n, id)
			require.Equal(t, e.run, r.starts[len(r.starts)-1].run, "log line %d: job %d done in run %s, last started in another (%s)", n, id, e.run, r)
			r.done = append(r.done, e)
		default:
			t.Fatalf("log line %d: %q", n, sc.Text())
		}
	}
	require.NoError(t, sc.Err())
	return runs
}

// crashChild is the worker process of TestCrashSafety. It works the jobs,
// logging each handler's start and end to the shared log file, until it is
// killed or, in the final run (SPOOL_TEST_FINAL=1), until the store has no
// pending, scheduled or running job left; then it stops cleanly.
func crashChild() error {
	logPath, run := os.Getenv("SPOOL_TEST_LOG"), os.Getenv("SPOOL_TEST_RUN")
	final := os.Getenv("SPOOL_TEST_FINAL") == "1"
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	store, err := crashDBFromEnv().Open(ctx, openOpts{Logger: logger})
	if err != nil {
		return err
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{Logger: logger})
	if err != nil {
		return err
	}
	// write(2) with O_APPEND: each line is one write, complete in the file
	// once it returned, whenever SIGKILL comes.
	logFile, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()

	pool, err := worker.New(q, worker.Options{
		Queues:              map[string]worker.QueueConfig{queue.DefaultQueue: {MaxWorkers: 32}},
		LeaseDuration:       time.Second,
		HeartbeatInterval:   300 * time.Millisecond,
		MaintenanceInterval: 200 * time.Millisecond,
		PollInterval:        100 * time.Millisecond,
		Backoff:             queue.Constant(10 * time.Millisecond),
		Logger:              logger,
	})
	if err != nil {
		return err
	}
	pool.Handle(crashKind, worker.JSON(func(ctx context.Context, job *queue.Job, args crashArgs) error {
		if _, err := fmt.Fprintf(logFile, "start %s %d %d\n", run, job.ID, args.Seq); err != nil {
			return err
		}
		time.Sleep(time.Millisecond + rand.N(4*time.Millisecond)) // simulated work
		_, err := fmt.Fprintf(logFile, "done %s %d %d\n", run, job.ID, args.Seq)
		return err
	}))
	if err := pool.Start(ctx); err != nil {
		return err
	}

	if !final {
		// Work until killed. Stdin ends only if the parent went away.
		_ = childtest.AwaitClose()
		return errors.New("stdin closed before the parent killed this run")
	}

	// Jobs held by killed runs come back when their leases expire (about a
	// second) and this pool's maintenance loop rescues them.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(50 * time.Second)
	for {
		st, err := q.Inspector().Stats(ctx)
		if err != nil {
			return fmt.Errorf("stats: %w", err)
		}
		left := 0
		for _, qs := range st.Queues {
			left += qs.Pending + qs.Scheduled + qs.Running
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("jobs still left after 50s: %+v", st.Queues)
		}
		<-tick.C
	}
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Stop(stopCtx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	return store.Close()
}
