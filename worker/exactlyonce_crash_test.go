package worker_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
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
	onceKind  = "once.count"
	onceJobs  = 600
	onceKills = 6
	// Every onceSlowEvery-th job's handler waits onceSlowWait between
	// writing its acknowledgement and committing (holding the write lock),
	// and onceSlowTail after the commit before it returns: the aimed kills
	// wait for one of these and land in one of those windows. The other
	// handlers wait up to a millisecond before committing, where random
	// kills may land.
	onceSlowEvery = 40
	onceSlowWait  = 50 * time.Millisecond
	onceSlowTail  = 150 * time.Millisecond
)

// The app's tables, in the spool database: a counter every job increments
// once, the jobs whose effect applied (a set: a second application would
// not show here, only in the counter and the log), and a log of every
// application with the attempt that made it (no unique constraint: each
// committed application is one row).
const onceSchema = `
CREATE TABLE counter (n INTEGER NOT NULL);
INSERT INTO counter VALUES (0);
CREATE TABLE effects (job_id INTEGER PRIMARY KEY);
CREATE TABLE applied_log (job_id INTEGER NOT NULL, run TEXT NOT NULL, token INTEGER NOT NULL);`

// onceSchemaPostgres is onceSchema on PostgreSQL, whose INTEGER has 32
// bits: job IDs and lease tokens are 64-bit.
const onceSchemaPostgres = `
CREATE TABLE counter (n BIGINT NOT NULL);
INSERT INTO counter VALUES (0);
CREATE TABLE effects (job_id BIGINT PRIMARY KEY);
CREATE TABLE applied_log (job_id BIGINT NOT NULL, run TEXT NOT NULL, token BIGINT NOT NULL);`

// TestExactlyOnceEffectsUnderCrashes runs onceJobs jobs whose handler, in
// one transaction on the store's database, increments the app's counter,
// records its job in effects and applied_log, completes its job with
// Pool.CompleteTx, waits a moment and commits. A worker process with four
// handlers is killed with SIGKILL onceKills times, in turn: aimed at a
// handler that has written its effect and its acknowledgement but not yet
// committed them; at a random moment; aimed at a handler that has
// committed but not yet returned, so the pool has not settled its job
// (every onceSlowEvery-th job waits in each of these two windows). A last
// run finishes the rest.
//
// Delivery is at-least-once: a job whose handler a kill cut short runs
// again once its lease expires. Its effect must nevertheless apply exactly
// once:
//
//   - After every kill, the jobs gone from the store (acknowledged) are
//     exactly the jobs in effects, the counter equals their number, and
//     applied_log has one row for each of them and none for the others:
//     the effect and the acknowledgement committed together or not at all,
//     wherever the kill came.
//   - At the end the store holds no job (live or dead), the counter equals
//     onceJobs, effects holds every job, and applied_log holds exactly one
//     row per job, naming the handler run (process and lease token) that
//     committed it. That run logged "ready" (effect and acknowledgement
//     written); no other run of the job logged "done" (committed), and
//     every other run either failed and rolled back ("fail") or was cut
//     short by a kill (its transaction died with the process).
//   - The test is not vacuous: some kill cut a handler short, some job ran
//     twice, some kill landed between a handler's CompleteTx and its
//     Commit, and some kill landed after a handler's Commit but before it
//     returned. An effect committed apart from its acknowledgement would
//     be applied twice (acknowledged after the commit) or lost
//     (acknowledged before it) by a kill in one of these windows.
//
// Every job costs three write transactions (the handler's, its lease, the
// pool's settle, which finds the job gone), about 10ms under -race on two
// cores; hence 600 jobs. The seed (logged; SPOOL_ONCE_SEED replays the
// parent's choices) picks the kill points. It runs on SQLite and on
// PostgreSQL.
func TestExactlyOnceEffectsUnderCrashes(t *testing.T) {
	t.Parallel()
	onBothBackends(t, "once.db", testExactlyOnceEffectsUnderCrashes)
}

func testExactlyOnceEffectsUnderCrashes(t *testing.T, cdb crashDB) {
	began := time.Now()
	seed := testSeed(t, "SPOOL_ONCE_SEED", "the kill points")
	rng := rand.New(rand.NewPCG(seed, 0x0ce))

	ctx := t.Context()
	logPath := filepath.Join(t.TempDir(), "runs.log")
	store := cdb.MustOpen(t, openOpts{})
	db := store.DB()
	schema := onceSchema
	if cdb.Postgres() {
		schema = onceSchemaPostgres
	}
	_, err := db.ExecContext(ctx, schema)
	require.NoError(t, err)
	q, err := queue.New(store, queue.Options{})
	require.NoError(t, err)
	ids := map[int64]bool{}
	for first := 0; first < onceJobs; first += 500 {
		jobs := make([]queue.NewJob, 0, 500)
		for n := first; n < min(first+500, onceJobs); n++ {
			jobs = append(jobs, queue.NewJob{Kind: onceKind, Args: n, MaxAttempts: 1000})
		}
		res, err := q.EnqueueMany(ctx, jobs)
		require.NoError(t, err)
		for _, r := range res {
			ids[r.ID] = true
		}
	}
	require.Len(t, ids, onceJobs)

	env := func(run string) []string {
		return append(cdb.Env(), "SPOOL_TEST_LOG="+logPath, "SPOOL_TEST_RUN="+run)
	}
	killed := map[string]bool{}
	for i := 1; i <= onceKills; i++ {
		run := fmt.Sprintf("k%d", i)
		base := countLines(t, logPath)
		// About 3 log lines per job, 1800 in all: six kills use at most
		// 900 of them, plus up to four slow jobs' worth (about 480) for
		// the aimed kills.
		target := base + 30 + rng.IntN(120)
		kind := [...]string{"before-commit", "random", "after-commit"}[(i-1)%3]
		start := time.Now()
		c := childtest.Start(t, "oncecrash", env(run)...)
		what := fmt.Sprintf("run %s to write log line %d", run, target)
		cond := func() bool { return countLines(t, logPath) >= target }
		switch kind {
		case "before-commit":
			what += " and then a handler to be between CompleteTx and Commit"
			cond = func() bool {
				if countLines(t, logPath) < target {
					return false
				}
				waiting, _ := slowJobs(t, logPath, run)
				return waiting
			}
		case "after-commit":
			// A slow job's "done" that was not there at the last look is
			// at most a few milliseconds old: its handler still waits
			// before returning.
			what += " and then a handler to commit"
			seen := -1
			cond = func() bool {
				if countLines(t, logPath) < target {
					return false
				}
				_, committed := slowJobs(t, logPath, run)
				fresh := seen >= 0 && committed > seen
				seen = committed
				return fresh
			}
		}
		childtest.WaitUntil(t, 30*time.Second, what, cond, c)
		cdb.Kill(t, c)
		killed[run] = true
		acked, counter := checkOnceSnapshot(t, db, cdb, ids)
		t.Logf("run %s: SIGKILL (%s) after %s at log line %d (run started at line %d): %d jobs acknowledged, counter %d",
			run, kind, time.Since(start).Round(time.Millisecond), countLines(t, logPath), base, acked, counter)
	}

	start := time.Now()
	final := childtest.Start(t, "oncecrash", append(env(finalRun), "SPOOL_TEST_FINAL=1")...)
	final.Wait(60 * time.Second)
	t.Logf("run %s: finished the rest in %s", finalRun, time.Since(start).Round(time.Millisecond))

	st, err := q.Inspector().Stats(ctx)
	require.NoError(t, err)
	for _, qs := range st.Queues {
		require.Zero(t, qs.Pending+qs.Scheduled+qs.Running+qs.Blocked+qs.Completed+qs.Cancelled+qs.Dead,
			"queue %q should hold no jobs after the final run: %+v", qs.Name, qs)
	}
	left, err := q.Inspector().List(ctx, queue.ListFilter{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, left, "jobs left in the store (live or dead)")
	acked, counter := checkOnceSnapshot(t, db, cdb, ids)
	require.Equal(t, onceJobs, acked)
	require.Equal(t, onceJobs, counter, "the counter must equal the number of jobs exactly")

	// Which handler run committed each job's effect, from applied_log.
	committed := map[int64]onceAttempt{}
	rows, err := db.QueryContext(ctx, `SELECT job_id, run, token FROM applied_log`)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		var a onceAttempt
		require.NoError(t, rows.Scan(&id, &a.run, &a.token))
		_, twice := committed[id]
		require.False(t, twice, "job %d's effect applied twice", id)
		committed[id] = a
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.Len(t, committed, onceJobs)

	runs := readOnceLog(t, logPath, ids)
	var reran, maxRuns, interrupted, rolledBack, failed, unlogged, unreturned int
	for id := range ids {
		c := committed[id]
		attempts := runs[id]
		ok := false
		for _, a := range attempts {
			if a.onceAttempt == c {
				ok = true
				require.True(t, a.ready, "job %d: the run that committed its effect (%s) never logged ready", id, a)
				if !a.done {
					require.True(t, killed[a.run], "job %d: committed in run %s, which was not killed, but never logged done", id, a.run)
					unlogged++
				} else if id%onceSlowEvery == 0 && !a.back {
					require.True(t, killed[a.run], "job %d: committed in run %s, which was not killed, but never returned", id, a.run)
					unreturned++ // killed after the commit, before the pool could settle
				}
				continue
			}
			require.False(t, a.done, "job %d: a second handler run (%s) committed; the one in applied_log is %s", id, a, c)
			switch {
			case a.fail:
				// Rolled back by the handler: its lease was lost (CompleteTx
				// refused) or a statement failed.
				failed++
			case killed[a.run]:
				interrupted++
				if a.ready {
					// Effect and acknowledgement written, not committed:
					// the kill rolled both back and the job ran again.
					rolledBack++
				}
			default:
				require.Failf(t, "run never ended", "job %d: handler run %s in a run that was not killed never ended", id, a)
			}
		}
		require.True(t, ok, "job %d: applied_log names %s, which no log line shows", id, c)
		if len(attempts) > 1 {
			reran++
		}
		maxRuns = max(maxRuns, len(attempts))
	}
	t.Logf("%d jobs, %d kills, counter %d: %d jobs ran more than once (at most %d times); %d handler runs cut short by a kill, "+
		"%d of them after writing the effect and the acknowledgement (rolled back; the job ran again; with the effect "+
		"committed apart from the acknowledgement, each would have counted twice); %d handler runs failed and rolled back "+
		"(lease lost or an error); %d handlers killed after their commit (%d of them before logging done), whose jobs did not run again; %s in all",
		onceJobs, onceKills, counter, reran, maxRuns, interrupted, rolledBack, failed, unreturned+unlogged, unlogged,
		time.Since(began).Round(time.Millisecond))
	require.Positive(t, interrupted, "no kill interrupted a handler: the test proved nothing")
	require.Positive(t, reran, "no job ran twice: redelivery was not exercised")
	require.Positive(t, rolledBack, "no kill landed between a handler's CompleteTx and its Commit")
	require.Positive(t, unreturned, "no kill landed after a handler's Commit, before it returned")
}

// checkOnceSnapshot checks that the effect and the acknowledgement of each
// job committed together: the jobs gone from the store (acknowledged) are
// exactly those in effects, each with one applied_log row, and the counter
// is their number. It returns how many jobs were acknowledged and the
// counter.
func checkOnceSnapshot(t *testing.T, db *sql.DB, cdb crashDB, ids map[int64]bool) (acked, counter int) {
	t.Helper()
	ctx := t.Context()
	live := liveJobs(t, cdb) // requires that no job is dead
	effects := map[int64]bool{}
	rows, err := db.QueryContext(ctx, `SELECT job_id FROM effects`)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		effects[id] = true
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	applied := map[int64]int{}
	rows, err = db.QueryContext(ctx, `SELECT job_id, count(*) FROM applied_log GROUP BY job_id`)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		var n int
		require.NoError(t, rows.Scan(&id, &n))
		applied[id] = n
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.NoError(t, db.QueryRowContext(ctx, `SELECT n FROM counter`).Scan(&counter))

	for id := range live {
		require.True(t, ids[id], "job %d in the store was never enqueued", id)
	}
	for id := range effects {
		require.True(t, ids[id], "effect of job %d, which was never enqueued", id)
	}
	for id := range ids {
		gone := !live[id]
		require.Equal(t, gone, effects[id], "job %d: acknowledged=%v but effect applied=%v", id, gone, effects[id])
		want := 0
		if gone {
			want = 1
			acked++
		}
		require.Equal(t, want, applied[id], "job %d (acknowledged=%v): applied_log rows", id, gone)
	}
	require.Equal(t, acked, counter, "the counter must equal the number of acknowledged jobs")
	return acked, counter
}

// slowJobs looks at the slow jobs (see onceSlowEvery) of the given run:
// waiting reports whether one has logged "ready" (effect and
// acknowledgement written in its transaction) and not yet "done" or
// "fail", so it waits before its Commit; committed counts their "done"
// lines.
func slowJobs(t *testing.T, path, run string) (waiting bool, committed int) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	open := map[string]bool{} // "<jobID> <token>" of slow jobs before their commit
	for line := range bytes.Lines(b) {
		fields := strings.Fields(string(line))
		if len(fields) != 4 || fields[1] != run {
			continue
		}
		if id, err := strconv.ParseInt(fields[2], 10, 64); err != nil || id%onceSlowEvery != 0 {
			continue
		}
		switch key := fields[2] + " " + fields[3]; fields[0] {
		case "ready":
			open[key] = true
		case "done":
			delete(open, key)
			committed++
		case "fail":
			delete(open, key)
		}
	}
	return len(open) > 0, committed
}

// onceAttempt names one handler run of a job: the process run and the
// lease token it held (one token covers all the jobs of one lease batch, so
// it names a run only together with the job).
type onceAttempt struct {
	run   string
	token int64
}

// onceRun is what the log says about one handler run.
type onceRun struct {
	onceAttempt
	ready, done, back, fail bool
}

func (a onceRun) String() string {
	return fmt.Sprintf("run %s token %d ready=%v done=%v back=%v fail=%v", a.run, a.token, a.ready, a.done, a.back, a.fail)
}

// readOnceLog parses the lines "start|ready|done|back|fail <run> <jobID> <token>"
// into each job's handler runs, in the order they started.
func readOnceLog(t *testing.T, path string, ids map[int64]bool) map[int64][]*onceRun {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[int64][]*onceRun{}
	type onceKey struct {
		id int64
		onceAttempt
	}
	byAttempt := map[onceKey]*onceRun{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		require.Len(t, fields, 4, "log line %d: %q", n, sc.Text())
		id, err := strconv.ParseInt(fields[2], 10, 64)
		require.NoError(t, err, "log line %d: %q", n, sc.Text())
		require.True(t, ids[id], "log line %d names job %d, which was never enqueued", n, id)
		token, err := strconv.ParseInt(fields[3], 10, 64)
		require.NoError(t, err, "log line %d: %q", n, sc.Text())
		key := onceAttempt{run: fields[1], token: token}
		a := byAttempt[onceKey{id, key}]
		if fields[0] == "start" {
			require.Nil(t, a, "log line %d: job %d started twice with one lease", n, id)
			a = &onceRun{onceAttempt: key}
			byAttempt[onceKey{id, key}] = a
			out[id] = append(out[id], a)
			continue
		}
		require.NotNil(t, a, "log line %d: %q before its start", n, sc.Text())
		require.False(t, a.back || a.fail, "log line %d: %q after the run ended", n, sc.Text())
		switch fields[0] {
		case "ready":
			a.ready = true
		case "done":
			require.True(t, a.ready && !a.done, "log line %d: done without ready, or twice", n)
			a.done = true
		case "back":
			require.True(t, a.done, "log line %d: back without done", n)
			a.back = true
		case "fail":
			a.fail = true
		default:
			t.Fatalf("log line %d: %q", n, sc.Text())
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// onceCrashChild is the worker process of TestExactlyOnceEffectsUnderCrashes.
// Its handler applies the job's effect and completes the job in one
// transaction on the store's database, logging its start, "ready" once
// effect and acknowledgement are written, "done" once they are committed,
// or "fail"; slow jobs also log "back" just before they return. It works until killed or, in the final run
// (SPOOL_TEST_FINAL=1), until the store has no live job.
func onceCrashChild() error {
	logPath, run := os.Getenv("SPOOL_TEST_LOG"), os.Getenv("SPOOL_TEST_RUN")
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	store, err := crashDBFromEnv().Open(ctx, openOpts{Logger: logger})
	if err != nil {
		return err
	}
	defer store.Close()
	db := store.DB()
	q, err := queue.New(store, queue.Options{Logger: logger})
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logf := func(what string, job *queue.Job) error {
		_, err := fmt.Fprintf(logFile, "%s %s %d %d\n", what, run, job.ID, job.LeaseToken)
		return err
	}

	pool, err := worker.New(q, worker.Options{
		Queues:              map[string]worker.QueueConfig{queue.DefaultQueue: {MaxWorkers: 4}},
		LeaseDuration:       time.Second,
		HeartbeatInterval:   300 * time.Millisecond,
		MaintenanceInterval: 200 * time.Millisecond,
		PollInterval:        50 * time.Millisecond,
		Backoff:             queue.Constant(10 * time.Millisecond),
		Logger:              logger,
	})
	if err != nil {
		return err
	}
	// Prepared once: each connection of the pool prepares them once.
	prepare := func(query string) *sql.Stmt {
		if err == nil {
			var st *sql.Stmt
			st, err = db.PrepareContext(ctx, query)
			return st
		}
		return nil
	}
	count := prepare(`UPDATE counter SET n = n + 1`)
	logApplied := prepare(`INSERT INTO applied_log (job_id, run, token) VALUES ($1, $2, $3)`)
	markEffect := prepare(`INSERT INTO effects (job_id) VALUES ($1) ON CONFLICT (job_id) DO NOTHING`)
	if err != nil {
		return err
	}
	pool.HandleFunc(onceKind, func(ctx context.Context, job *queue.Job) (err error) {
		if err := logf("start", job); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				err = errors.Join(err, logf("fail", job)) // logged after the rollback below
			}
		}()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.StmtContext(ctx, count).ExecContext(ctx); err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, logApplied).ExecContext(ctx, job.ID, run, job.LeaseToken); err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, markEffect).ExecContext(ctx, job.ID); err != nil {
			return err
		}
		if err := pool.CompleteTx(ctx, tx, job); err != nil {
			return err // the lease was lost: another run has the job
		}
		if err := logf("ready", job); err != nil {
			return err
		}
		// Widen the window between the acknowledgement and the commit, so
		// that kills land in it.
		slow := job.ID%onceSlowEvery == 0
		if slow {
			time.Sleep(onceSlowWait)
		} else {
			time.Sleep(rand.N(time.Millisecond))
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		if err := logf("done", job); err != nil || !slow {
			return err
		}
		// Committed, not yet returned: the pool has not settled the job.
		time.Sleep(onceSlowTail)
		return logf("back", job)
	})
	if err := pool.Start(ctx); err != nil {
		return err
	}
	if os.Getenv("SPOOL_TEST_FINAL") != "1" {
		_ = childtest.AwaitClose() // until killed
		return errors.New("stdin closed before the parent killed this run")
	}
	return drainAndStop(ctx, q, pool, 50*time.Second)
}
