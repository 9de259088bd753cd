package worker_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
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
	orderKind   = "ordered.apply"
	orderKeys   = 40
	orderPerKey = 25
	orderKills  = 3
	// orderFailPct is the chance, in percent, that a handler run fails
	// with a plain error (and is retried).
	orderFailPct = 20
)

type orderArgs struct {
	Key string `json:"key"`
	Seq int    `json:"seq"`
}

// orderedJob is what the parent enqueued as one job: its key and its
// position in the key's enqueue sequence.
type orderedJob struct {
	key string
	seq int
}

// TestOrderingUnderCrashes enqueues orderKeys ordering keys × orderPerKey
// jobs, interleaved across keys, some in batches and some one by one, half
// of them while a worker process already works. Worker processes with 16
// handlers, whose handlers fail at random (orderFailPct) and are retried,
// are killed with SIGKILL orderKills times at random moments; a last run
// finishes the rest.
//
// The handlers log "start", then "done" or "fail", for every handler run
// (O_APPEND writes, in the order they happened, across processes, since
// only one worker process lives at a time). For every key, the events of
// the key in log order must satisfy, with the key's enqueue sequence
// 0, 1, …, n-1 (job IDs of a key grow with its sequence):
//
//   - One at a time: a start of the key is followed by the end (done or
//     fail) of the same handler run before the key's next start, unless
//     its process was killed first; then the next start comes from a later
//     run.
//   - In order, advancing only on success: the seqs of the starts are
//     non-decreasing and begin at 0. A start of seq s+1 comes only
//     directly after a "done" of s (the key moves on only once s was
//     acknowledged, which happens only after its handler returned nil).
//     A start that repeats seq s follows a "fail" of s, a kill that cut
//     s's handler short, or a "done" of s in a killed run (the kill lost
//     the acknowledgement): at-least-once re-runs the head, never a job
//     behind it.
//   - Complete: the last event of the key is a "done" of n-1, so the
//     completion sequence (the seqs of the "done" lines with repeats of a
//     re-run head collapsed) equals the enqueue sequence 0, 1, …, n-1.
//
// Together these say more than "the completions are in order": no job of
// a key ever starts before the previous job of the key finished its last
// run for good. After each kill the store is checked against the log: per
// key only the oldest live job is pending, scheduled or running, the rest
// are blocked, the live jobs are a suffix of the key's sequence, and every
// job gone from the store has a "done" (nothing lost). At the end the
// store holds no job, live or dead, and different keys ran overlapped in
// time (a start of one key between the start and the end of a handler run
// of another, in one run). The seed (logged; SPOOL_ORDER_SEED replays the
// parent's choices) drives the kill points, the enqueue batches and the
// children's failures; thread timing varies between runs. It runs on
// SQLite and on PostgreSQL.
func TestOrderingUnderCrashes(t *testing.T) {
	t.Parallel()
	onBothBackends(t, "ordered.db", testOrderingUnderCrashes)
}

func testOrderingUnderCrashes(t *testing.T, db crashDB) {
	began := time.Now()
	seed := testSeed(t, "SPOOL_ORDER_SEED", "the kill points, batches and failure draws")
	rng := rand.New(rand.NewPCG(seed, 0x0bde5))

	ctx := t.Context()
	logPath := filepath.Join(t.TempDir(), "runs.log")
	store := db.MustOpen(t, openOpts{})
	q, err := queue.New(store, queue.Options{})
	require.NoError(t, err)

	// The enqueue sequence: round by round, one job of every key in a
	// random key order, so keys interleave in the ID space.
	var all []queue.NewJob
	for seq := range orderPerKey {
		for _, k := range rng.Perm(orderKeys) {
			key := fmt.Sprintf("k:%d", k)
			all = append(all, queue.NewJob{Kind: orderKind, OrderKey: key, MaxAttempts: 1000,
				Args: orderArgs{Key: key, Seq: seq}})
		}
	}
	jobOf := map[int64]orderedJob{}
	// enqueue adds jobs in order, in chunks of random size, each chunk in
	// one transaction (EnqueueMany) or job by job (Enqueue) as singles
	// says.
	enqueue := func(jobs []queue.NewJob, singles func() bool) {
		for len(jobs) > 0 {
			var res []queue.EnqueueResult
			var chunk []queue.NewJob
			if singles() {
				n := min(len(jobs), 1+rng.IntN(8))
				chunk, jobs = jobs[:n], jobs[n:]
				for _, j := range chunk {
					r, err := q.Enqueue(ctx, j)
					require.NoError(t, err)
					res = append(res, r)
				}
			} else {
				n := min(len(jobs), 1+rng.IntN(100))
				chunk, jobs = jobs[:n], jobs[n:]
				res, err = q.EnqueueMany(ctx, chunk)
				require.NoError(t, err)
			}
			for i, r := range res {
				require.False(t, r.Duplicate)
				a := chunk[i].Args.(orderArgs)
				jobOf[r.ID] = orderedJob{key: a.Key, seq: a.Seq}
			}
		}
	}
	// Half the jobs before any worker runs, about every other chunk one
	// job at a time; the rest while a worker works, mostly in batches (one
	// at a time, each enqueue waits its turn for the write lock against
	// the worker's leases and acks, which takes far longer).
	half := len(all) / 2
	enqueue(all[:half], func() bool { return rng.IntN(2) == 0 })

	env := func(run string) []string {
		return append(db.Env(), "SPOOL_TEST_LOG="+logPath, "SPOOL_TEST_RUN="+run,
			"SPOOL_TEST_SEED="+strconv.FormatUint(seed, 10))
	}
	killed := map[string]bool{}
	for i := 1; i <= orderKills; i++ {
		run := fmt.Sprintf("k%d", i)
		base := countLines(t, logPath)
		start := time.Now()
		c := childtest.Start(t, "ordercrash", env(run)...)
		if i == 1 {
			// The second half goes in while the worker works: enqueues from
			// this process race with its leases and acks on each key.
			childtest.WaitUntil(t, 30*time.Second, "the first run to start work",
				func() bool { return countLines(t, logPath) >= base+20 }, c)
			enqueue(all[half:], func() bool { return rng.IntN(8) == 0 })
			t.Logf("enqueued the second half (%d jobs) in %s while run %s worked (log line %d)",
				len(all)-half, time.Since(start).Round(time.Millisecond), run, countLines(t, logPath))
			base = countLines(t, logPath)
		}
		// About 2.5 log lines per job (a fifth of the runs fail and run
		// again), 2500 in all: three kills use at most 900 after the
		// enqueueing is done.
		target := base + 50 + rng.IntN(250)
		childtest.WaitUntil(t, 30*time.Second, fmt.Sprintf("run %s to write log line %d", run, target),
			func() bool { return countLines(t, logPath) >= target }, c)
		db.Kill(t, c)
		killed[run] = true
		t.Logf("run %s: SIGKILL after %s at log line %d (run started at line %d)",
			run, time.Since(start).Round(time.Millisecond), countLines(t, logPath), base)
		checkOrderSnapshot(t, q, logPath, jobOf, run)
	}
	require.Len(t, jobOf, orderKeys*orderPerKey)
	// The enqueue sequence of a key is the order of its job IDs.
	idsByKey := map[string][]int64{}
	for id, oj := range jobOf {
		idsByKey[oj.key] = append(idsByKey[oj.key], id)
	}
	for key, ids := range idsByKey {
		slices.Sort(ids)
		for i, id := range ids {
			require.Equal(t, i, jobOf[id].seq, "key %s: job %d", key, id)
		}
	}

	start := time.Now()
	final := childtest.Start(t, "ordercrash", append(env(finalRun), "SPOOL_TEST_FINAL=1")...)
	final.Wait(60 * time.Second)
	t.Logf("run %s: finished the rest in %s", finalRun, time.Since(start).Round(time.Millisecond))

	// The store holds nothing: every job completed, none is blocked, dead
	// or stuck.
	st, err := q.Inspector().Stats(ctx)
	require.NoError(t, err)
	for _, qs := range st.Queues {
		require.Zero(t, qs.Pending+qs.Scheduled+qs.Running+qs.Blocked+qs.BlockedKeys+qs.StuckKeys+qs.Completed+qs.Cancelled+qs.Dead,
			"queue %q should hold no jobs after the final run: %+v", qs.Name, qs)
	}
	left, err := q.Inspector().List(ctx, queue.ListFilter{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, left, "jobs left in the store (live or dead)")

	events := readOrderLog(t, logPath, jobOf)
	stats := checkKeyOrder(t, events, killed)
	overlaps := keyOverlaps(events)
	t.Logf("%d keys × %d jobs, %d kills: %d handler runs (%d failed and ran again, %d cut short by a kill, "+
		"%d finished but their acknowledgement lost to a kill); %d starts overlapped a handler run of another key; %s in all",
		orderKeys, orderPerKey, orderKills, stats.starts, stats.failed, stats.interrupted, stats.ackLost, overlaps,
		time.Since(began).Round(time.Millisecond))
	require.Positive(t, overlaps, "no two keys ever ran at the same time: keys must run in parallel")
	require.Positive(t, stats.failed, "no handler failed: retries were not exercised")
	require.Positive(t, stats.interrupted+stats.ackLost, "no kill hit a key's head while it ran: the test proved nothing about crashes")
}

// orderEvent is one line of the ordering log.
type orderEvent struct {
	what string // start, done or fail
	run  string
	id   int64
	orderedJob
	line int
}

func (e orderEvent) String() string {
	return fmt.Sprintf("line %d: %s %s job %d (%s seq %d)", e.line, e.what, e.run, e.id, e.key, e.seq)
}

// readOrderLog parses the lines "start|done|fail <run> <jobID> <key> <seq>"
// and checks that each names an enqueued job with its own payload.
func readOrderLog(t *testing.T, path string, jobOf map[int64]orderedJob) []orderEvent {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []orderEvent
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		require.Len(t, fields, 5, "log line %d: %q", n, sc.Text())
		require.Contains(t, []string{"start", "done", "fail"}, fields[0], "log line %d: %q", n, sc.Text())
		id, err := strconv.ParseInt(fields[2], 10, 64)
		require.NoError(t, err, "log line %d: %q", n, sc.Text())
		seq, err := strconv.Atoi(fields[4])
		require.NoError(t, err, "log line %d: %q", n, sc.Text())
		want, ok := jobOf[id]
		require.True(t, ok, "log line %d names job %d, which was never enqueued", n, id)
		require.Equal(t, want, orderedJob{key: fields[3], seq: seq}, "log line %d: job %d's payload is not its own", n, id)
		out = append(out, orderEvent{what: fields[0], run: fields[1], id: id, orderedJob: want, line: n})
	}
	require.NoError(t, sc.Err())
	return out
}

type orderStats struct {
	starts, failed, interrupted, ackLost int
}

// checkKeyOrder checks the per-key invariant stated on
// TestOrderingUnderCrashes, key by key, and counts what happened.
func checkKeyOrder(t *testing.T, events []orderEvent, killed map[string]bool) orderStats {
	t.Helper()
	byKey := map[string][]orderEvent{}
	for _, e := range events {
		byKey[e.key] = append(byKey[e.key], e)
	}
	require.Len(t, byKey, orderKeys, "keys in the log")
	var st orderStats
	for key, evs := range byKey {
		history := func(upTo int) string { // the key's events so far, for failure messages
			var b strings.Builder
			for _, e := range evs[max(0, upTo-12) : upTo+1] {
				b.WriteString("\n  " + e.String())
			}
			return b.String()
		}
		head := 0              // the seq that is the key's head
		var open *orderEvent   // a start whose handler run has not ended (in the log)
		var lastEnd orderEvent // the end of the head's latest finished run
		headDone := false      // lastEnd is a "done" of head
		completions := []int{}
		for i := range evs {
			e := evs[i]
			switch e.what {
			case "start":
				st.starts++
				if open != nil {
					// The previous run of the key never ended: only a kill
					// may have cut it short, and only a later process may
					// start the key again.
					require.True(t, killed[open.run] && open.run != e.run,
						"key %s: two handler runs at once (%s still running when %s)%s", key, open, e, history(i))
					st.interrupted++
				}
				switch {
				case e.seq == head && !headDone:
					// First run of the head, or a re-run after a failure or
					// a kill.
				case e.seq == head && headDone:
					// The head finished, but its acknowledgement was lost:
					// only a kill may have lost it.
					require.True(t, killed[lastEnd.run] && lastEnd.run != e.run,
						"key %s: seq %d ran again after it finished (%s) without a kill in between: %s%s",
						key, head, lastEnd, e, history(i))
					st.ackLost++
				case e.seq == head+1 && headDone && open == nil:
					head++ // the head was acknowledged: the key moved on
				default:
					require.Failf(t, "out of order",
						"key %s: %s while seq %d was the head (its latest run: finished=%v)%s", key, e, head, headDone, history(i))
				}
				headDone = false
				open = &evs[i]
			case "done", "fail":
				require.True(t, open != nil && open.run == e.run && open.id == e.id,
					"key %s: %s ends no handler run of this job that is open%s", key, e, history(i))
				open = nil
				lastEnd = e
				headDone = e.what == "done"
				if headDone && (len(completions) == 0 || completions[len(completions)-1] != e.seq) {
					completions = append(completions, e.seq)
				}
				if e.what == "fail" {
					st.failed++
				}
			}
		}
		require.Nil(t, open, "key %s: its last handler run never ended", key)
		want := make([]int, orderPerKey)
		for i := range want {
			want[i] = i
		}
		require.Equal(t, want, completions, "key %s: the completion sequence differs from the enqueue sequence", key)
		require.True(t, headDone && head == orderPerKey-1, "key %s: ends at seq %d (done=%v)", key, head, headDone)
	}
	return st
}

// keyOverlaps counts the starts that happened while a handler run of
// another key was in progress in the same process.
func keyOverlaps(events []orderEvent) int {
	n := 0
	openByRun := map[string]map[string]bool{} // run → keys with a handler run in progress
	for _, e := range events {
		open := openByRun[e.run]
		if open == nil {
			open = map[string]bool{}
			openByRun[e.run] = open
		}
		if e.what == "start" {
			if len(open) > 0 && !(len(open) == 1 && open[e.key]) {
				n++
			}
			open[e.key] = true
		} else {
			delete(open, e.key)
		}
	}
	return n
}

// checkOrderSnapshot checks the store as a kill left it against the log:
// no dead job; per key, the live jobs are the end of the key's enqueue
// sequence, only the oldest of them is pending, scheduled or running and
// the rest are blocked; every job gone from the store finished in a
// handler run ("done" in the log): an acknowledged job was not lost.
func checkOrderSnapshot(t *testing.T, q *queue.Queue, logPath string, jobOf map[int64]orderedJob, run string) {
	t.Helper()
	live := map[string][]*queue.Job{} // by key, ascending seq
	for before := int64(0); ; {
		page, err := q.Inspector().List(t.Context(), queue.ListFilter{Limit: 1000, BeforeID: before})
		require.NoError(t, err)
		for _, j := range page {
			require.NotEqual(t, queue.StateDead, j.State, "job %d died: %s", j.ID, j.DeadReason)
			oj, ok := jobOf[j.ID]
			require.True(t, ok, "job %d in the store was never enqueued", j.ID)
			require.Equal(t, oj.key, j.OrderKey, "job %d", j.ID)
			live[oj.key] = append(live[oj.key], j)
		}
		if len(page) < 1000 {
			break
		}
		before = page[len(page)-1].ID
	}
	done := map[int64]bool{}
	for _, e := range readOrderLog(t, logPath, jobOf) {
		if e.what == "done" {
			done[e.id] = true
		}
	}
	perKey := map[string]int{}
	for _, oj := range jobOf {
		perKey[oj.key]++
	}
	for id, oj := range jobOf {
		jobs := live[oj.key]
		if !slices.ContainsFunc(jobs, func(j *queue.Job) bool { return j.ID == id }) {
			require.True(t, done[id], "after the kill of run %s job %d (%s seq %d) is gone from the store, but no handler finished it",
				run, id, oj.key, oj.seq)
		}
	}
	heads := map[queue.State]int{}
	for key, jobs := range live {
		slices.SortFunc(jobs, func(a, b *queue.Job) int { return int(a.ID - b.ID) })
		first := jobOf[jobs[0].ID].seq
		for i, j := range jobs {
			seq := jobOf[j.ID].seq
			require.Equal(t, first+i, seq, "key %s: the live jobs are not the end of the key's sequence", key)
			if i == 0 {
				require.Contains(t, []queue.State{queue.StatePending, queue.StateScheduled, queue.StateRunning}, j.State,
					"key %s: its head (seq %d, job %d) should be ready, scheduled or running", key, seq, j.ID)
				heads[j.State]++
			} else {
				require.Equal(t, queue.StateBlocked, j.State, "key %s: seq %d (job %d) behind the head seq %d", key, seq, j.ID, first)
			}
		}
		require.Equal(t, perKey[key]-1, jobOf[jobs[len(jobs)-1].ID].seq, "key %s: its last job is gone before the ones ahead of it", key)
	}
	t.Logf("after the kill of run %s: %d keys still have jobs; heads: %v", run, len(live), heads)
}

// orderCrashChild is the worker process of TestOrderingUnderCrashes. Its
// handler logs each run's start and end; a seeded draw makes about
// orderFailPct percent of runs fail. It works until killed or, in the final
// run (SPOOL_TEST_FINAL=1), until the store has no live job.
func orderCrashChild() error {
	ctx := context.Background()
	c, err := openCrashProc(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	run, q, logger, logFile := c.run, c.q, c.logger, c.log
	fail := func() bool { return c.draw() < orderFailPct }
	pool, err := worker.New(q, worker.Options{
		Queues:              map[string]worker.QueueConfig{queue.DefaultQueue: {MaxWorkers: 16}},
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
	pool.Handle(orderKind, worker.JSON(func(ctx context.Context, job *queue.Job, a orderArgs) error {
		if _, err := fmt.Fprintf(logFile, "start %s %d %s %d\n", run, job.ID, a.Key, a.Seq); err != nil {
			return err
		}
		time.Sleep(time.Millisecond + rand.N(4*time.Millisecond)) // a little work
		if fail() {
			if _, err := fmt.Fprintf(logFile, "fail %s %d %s %d\n", run, job.ID, a.Key, a.Seq); err != nil {
				return err
			}
			return errors.New("partner hiccup")
		}
		_, err := fmt.Fprintf(logFile, "done %s %d %s %d\n", run, job.ID, a.Key, a.Seq)
		return err
	}))
	if err := pool.Start(ctx); err != nil {
		return err
	}
	if os.Getenv("SPOOL_TEST_FINAL") != "1" {
		_ = childtest.AwaitClose() // until killed
		return errors.New("stdin closed before the parent killed this run")
	}
	return drainAndStop(ctx, q, pool, 50*time.Second)
}

// drainAndStop waits until the store has no pending, scheduled, running or
// blocked job (jobs held by killed runs come back when their leases expire
// and the pool rescues them), then stops the pool and closes nothing else.
func drainAndStop(ctx context.Context, q *queue.Queue, pool *worker.Pool, within time.Duration) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(within)
	for {
		st, err := q.Inspector().Stats(ctx)
		if err != nil {
			return fmt.Errorf("stats: %w", err)
		}
		left := 0
		for _, qs := range st.Queues {
			left += qs.Pending + qs.Scheduled + qs.Running + qs.Blocked
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("jobs still left after %s: %+v", within, st.Queues)
		}
		<-tick.C
	}
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Stop(stopCtx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	return nil
}
