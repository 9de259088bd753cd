package worker_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
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

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/childtest"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

const (
	pipeOrders  = 60
	pipeKills   = 3
	pipeFailPct = 15
)

// The order pipeline: each step and the steps it waits for.
var pipeSteps = []struct {
	name    string
	parents []string
}{
	{"validate", nil},
	{"reserve", []string{"validate"}},
	{"charge", []string{"validate"}},
	{"ship", []string{"reserve", "charge"}},
	{"email", []string{"ship"}},
}

type pipeArgs struct {
	Order   int      `json:"order"`
	Step    string   `json:"step"`
	Parents []string `json:"parents,omitempty"`
}

type pipeOutput struct {
	Order int    `json:"order"`
	Step  string `json:"step"`
}

// TestPipelineUnderCrashes runs the order pipeline of issue 17 (validate →
// reserve stock and charge payment in parallel → ship → email) for
// pipeOrders orders, each step a job that depends on the steps before it
// (NewJob.DependsOn): half the orders before any worker runs, every other
// one's five jobs in one transaction (EnqueueTx) and the others one
// Enqueue at a time; the other half while a worker works, each order in
// one transaction. Worker processes whose handlers
// fail at random (pipeFailPct, retried) are killed with SIGKILL pipeKills
// times; a last run finishes the rest. No job is kept after it completes,
// so children read their parents' outputs from what the store keeps for
// them.
//
// Handlers log "start", then "done" or "fail", for every run (O_APPEND,
// one worker process at a time, so log order is time order), and "bad"
// when worker.ParentOutputs does not hold exactly the outputs of the job's
// parents (the same order, the expected steps). Checked: no "bad" line;
// every job has a "done"; for every order and every dependency, the
// child's first start comes after the parent's last "done" (a parent
// re-run because a kill lost its acknowledgement holds its children back
// until it is acknowledged); at the end the store holds no job. It runs on
// SQLite and on PostgreSQL.
func TestPipelineUnderCrashes(t *testing.T) {
	t.Parallel()
	onBothBackends(t, "pipeline.db", testPipelineUnderCrashes)
}

func testPipelineUnderCrashes(t *testing.T, db crashDB) {
	began := time.Now()
	seed := testSeed(t, "SPOOL_PIPE_SEED", "the kill points, the enqueue modes and failure draws")
	rng := rand.New(rand.NewPCG(seed, 0x919e))
	ctx := t.Context()
	logPath := filepath.Join(t.TempDir(), "runs.log")
	store := db.MustOpen(t, openOpts{})
	q, err := queue.New(store, queue.Options{})
	require.NoError(t, err)

	type stepOf struct {
		order int
		step  string
	}
	jobOf := map[int64]stepOf{}
	idOf := map[stepOf]int64{}
	// enqueueOrder enqueues order n's jobs in tx, or one by one (nil).
	enqueueOrder := func(n int, tx *sql.Tx) {
		enq := func(j queue.NewJob) (queue.EnqueueResult, error) { return q.Enqueue(ctx, j) }
		if tx != nil {
			enq = func(j queue.NewJob) (queue.EnqueueResult, error) { return q.EnqueueTx(ctx, tx, j) }
		}
		ids := map[string]int64{}
		for _, s := range pipeSteps {
			var parents []int64
			for _, p := range s.parents {
				parents = append(parents, ids[p])
			}
			r, err := enq(queue.NewJob{Kind: "order." + s.name, MaxAttempts: 1000, DependsOn: parents,
				Args: pipeArgs{Order: n, Step: s.name, Parents: s.parents}})
			require.NoError(t, err)
			ids[s.name] = r.ID
		}
		for name, id := range ids {
			jobOf[id] = stepOf{n, name}
			idOf[stepOf{n, name}] = id
		}
	}
	half := pipeOrders / 2
	for n := range half {
		if n%2 == 0 {
			tx, err := store.DB().BeginTx(ctx, nil)
			require.NoError(t, err)
			enqueueOrder(n, tx)
			require.NoError(t, tx.Commit())
		} else {
			enqueueOrder(n, nil)
		}
	}
	// live reports whether the store has jobs left to run.
	live := func() bool {
		st, err := q.Inspector().Stats(ctx)
		require.NoError(t, err)
		for _, qs := range st.Queues {
			if qs.Pending+qs.Scheduled+qs.Running+qs.AwaitingParents > 0 {
				return true
			}
		}
		return false
	}

	env := func(run string) []string {
		return append(db.Env(), "SPOOL_TEST_LOG="+logPath, "SPOOL_TEST_RUN="+run,
			"SPOOL_TEST_SEED="+strconv.FormatUint(seed, 10))
	}
	killed := map[string]bool{}
	for i := 1; i <= pipeKills; i++ {
		run := fmt.Sprintf("k%d", i)
		base := countLines(t, logPath)
		c := childtest.Start(t, "pipecrash", env(run)...)
		if i == 1 {
			childtest.WaitUntil(t, 30*time.Second, "the first run to start work",
				func() bool { return countLines(t, logPath) >= base+10 }, c)
			// While workers run, a parent may complete (and go) before a
			// child enqueued after it names it: name parents in their
			// transaction (queue.ErrParentNotFound otherwise). One
			// transaction for all, which the worker's writes wait for.
			tx, err := store.DB().BeginTx(ctx, nil)
			require.NoError(t, err)
			for n := half; n < pipeOrders; n++ {
				enqueueOrder(n, tx)
			}
			require.NoError(t, tx.Commit())
			base = countLines(t, logPath)
		}
		target := base + 30 + rng.IntN(150)
		childtest.WaitUntil(t, 30*time.Second, fmt.Sprintf("run %s to write log line %d", run, target),
			func() bool { return countLines(t, logPath) >= target || !live() }, c)
		db.Kill(t, c)
		killed[run] = true
		t.Logf("run %s: SIGKILL at log line %d (run started at line %d)", run, countLines(t, logPath), base)
	}
	final := childtest.Start(t, "pipecrash", append(env(finalRun), "SPOOL_TEST_FINAL=1")...)
	final.Wait(60 * time.Second)

	st, err := q.Inspector().Stats(ctx)
	require.NoError(t, err)
	for _, qs := range st.Queues {
		require.Zero(t, qs.Pending+qs.Scheduled+qs.Running+qs.Blocked+qs.AwaitingParents+qs.Completed+qs.Cancelled+qs.Dead,
			"queue %q should hold no jobs after the final run: %+v", qs.Name, qs)
	}

	// Read the log: first start and last done of every job.
	f, err := os.Open(logPath)
	require.NoError(t, err)
	defer f.Close()
	firstStart, lastDone := map[int64]int{}, map[int64]int{}
	var starts, fails, interrupted int
	open := map[int64]string{} // job → run of its open start
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		require.Len(t, fields, 5, "log line %d: %q", line, sc.Text())
		id, err := strconv.ParseInt(fields[2], 10, 64)
		require.NoError(t, err)
		order, err := strconv.Atoi(fields[3])
		require.NoError(t, err)
		require.Equal(t, jobOf[id], stepOf{order, fields[4]}, "log line %d: job %d's payload is not its own", line, id)
		switch fields[0] {
		case "start":
			starts++
			if r, ok := open[id]; ok {
				require.True(t, killed[r] && r != fields[1], "line %d: job %d started again while its run %s had not ended", line, id, r)
				interrupted++
			}
			open[id] = fields[1]
			if _, ok := firstStart[id]; !ok {
				firstStart[id] = line
			}
		case "done", "fail":
			delete(open, id)
			if fields[0] == "done" {
				lastDone[id] = line
			} else {
				fails++
			}
		default:
			require.Failf(t, "bad parent outputs", "log line %d: %q", line, sc.Text())
		}
	}
	require.NoError(t, sc.Err())
	for id, s := range jobOf {
		require.Contains(t, lastDone, id, "job %d (order %d %s) never finished", id, s.order, s.step)
	}
	parallel := 0
	for n := range pipeOrders {
		for _, s := range pipeSteps {
			child := idOf[stepOf{n, s.name}]
			for _, p := range s.parents {
				parent := idOf[stepOf{n, p}]
				require.Greater(t, firstStart[child], lastDone[parent],
					"order %d: %s (job %d) started at line %d, before %s (job %d) finished for good at line %d",
					n, s.name, child, firstStart[child], p, parent, lastDone[parent])
			}
		}
		// Reserve and charge ran at once: one started while the other ran.
		r, c := idOf[stepOf{n, "reserve"}], idOf[stepOf{n, "charge"}]
		if firstStart[c] < lastDone[r] && firstStart[r] < lastDone[c] {
			parallel++
		}
	}
	t.Logf("%d orders × %d steps, %d kills: %d handler runs (%d failed and ran again, %d cut short by a kill); "+
		"reserve and charge overlapped in %d orders; %s in all",
		pipeOrders, len(pipeSteps), pipeKills, starts, fails, interrupted, parallel, time.Since(began).Round(time.Millisecond))
	require.Positive(t, fails, "no handler failed: retries were not exercised")
	require.Positive(t, interrupted, "no kill cut a handler run short: the test proved nothing about crashes")
	require.Positive(t, parallel, "reserve and charge never ran in parallel")
}

// pipeCrashChild is the worker process of TestPipelineUnderCrashes.
func pipeCrashChild() error {
	ctx := context.Background()
	c, err := openCrashProc(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	run, q, logger, logFile := c.run, c.q, c.logger, c.log
	fail := func() bool { return c.draw() < pipeFailPct }
	logf := func(what string, job *queue.Job, a pipeArgs) error {
		_, err := fmt.Fprintf(logFile, "%s %s %d %d %s\n", what, run, job.ID, a.Order, a.Step)
		return err
	}
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
	handle := worker.JSON(func(ctx context.Context, job *queue.Job, a pipeArgs) error {
		if err := logf("start", job, a); err != nil {
			return err
		}
		if !parentOutputsOK(ctx, a) {
			if err := logf("bad", job, a); err != nil {
				return err
			}
		}
		time.Sleep(time.Millisecond + rand.N(4*time.Millisecond)) // a little work
		if fail() {
			if err := logf("fail", job, a); err != nil {
				return err
			}
			return errors.New("partner hiccup")
		}
		if err := worker.RecordOutput(ctx, pipeOutput{Order: a.Order, Step: a.Step}); err != nil {
			return err
		}
		return logf("done", job, a)
	})
	for _, s := range pipeSteps {
		pool.Handle("order."+s.name, handle)
	}
	if err := pool.Start(ctx); err != nil {
		return err
	}
	if os.Getenv("SPOOL_TEST_FINAL") != "1" {
		_ = childtest.AwaitClose() // until killed
		return errors.New("stdin closed before the parent killed this run")
	}
	return drainAndStop(ctx, q, pool, 50*time.Second)
}

// parentOutputsOK reports whether the running job's parents' outputs are
// exactly those of its order's parent steps.
func parentOutputsOK(ctx context.Context, a pipeArgs) bool {
	outs, err := worker.ParentOutputs(ctx)
	if err != nil || len(outs) != len(a.Parents) {
		return false
	}
	var steps []string
	for _, raw := range outs {
		var o pipeOutput
		if err := json.Unmarshal(raw, &o); err != nil || o.Order != a.Order {
			return false
		}
		steps = append(steps, o.Step)
	}
	slices.Sort(steps)
	want := slices.Clone(a.Parents)
	slices.Sort(want)
	return slices.Equal(steps, want)
}
