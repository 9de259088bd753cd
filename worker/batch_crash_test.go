package worker_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
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
	batchCount   = 30
	batchMembers = 10
	batchKills   = 3
	// batchDeadPct is the chance, in percent, that a member fails for good.
	batchDeadPct = 3
)

// TestBatchCallbacksUnderCrashes creates batchCount batches of
// batchMembers jobs with all three callbacks, half before a worker runs
// and half while one works, and kills worker processes with SIGKILL
// batchKills times; a last run finishes the rest. Members fail at random,
// some for good (batchDeadPct). Callback handlers log the batch, the
// callback's kind and the job's id. Checked at the end: every batch called
// OnComplete, OnSuccess exactly when no member died, and OnDeath exactly
// when one did, each through exactly one job (a callback job may run more
// than once after a kill, at least once, but there is one job per
// callback); the batch's counters add up to its members. It runs on SQLite
// and on PostgreSQL.
func TestBatchCallbacksUnderCrashes(t *testing.T) {
	t.Parallel()
	onBothBackends(t, "batches.db", testBatchCallbacksUnderCrashes)
}

func testBatchCallbacksUnderCrashes(t *testing.T, db crashDB) {
	seed := testSeed(t, "SPOOL_BATCH_SEED", "the kill points and failure draws")
	rng := rand.New(rand.NewPCG(seed, 0xba7c))
	ctx := t.Context()
	logPath := filepath.Join(t.TempDir(), "runs.log")
	store := db.MustOpen(t, openOpts{})
	q, err := queue.New(store, queue.Options{})
	require.NoError(t, err)

	var batches []int64
	create := func(n int) {
		for range n {
			jobs := make([]queue.NewJob, batchMembers)
			for i := range jobs {
				jobs[i] = queue.NewJob{Kind: "batch.member", MaxAttempts: 3}
			}
			id, _, err := q.EnqueueBatch(ctx, queue.BatchSpec{
				OnSuccess:  &queue.NewJob{Kind: "batch.callback", Args: "success"},
				OnComplete: &queue.NewJob{Kind: "batch.callback", Args: "complete"},
				OnDeath:    &queue.NewJob{Kind: "batch.callback", Args: "death"},
			}, jobs)
			require.NoError(t, err)
			batches = append(batches, id)
		}
	}
	create(batchCount / 2)
	// live reports whether the store has jobs left to run.
	live := func() bool {
		st, err := q.Inspector().Stats(ctx)
		require.NoError(t, err)
		for _, qs := range st.Queues {
			if qs.Pending+qs.Scheduled+qs.Running > 0 {
				return true
			}
		}
		return false
	}
	env := func(run string) []string {
		return append(db.Env(), "SPOOL_TEST_LOG="+logPath, "SPOOL_TEST_RUN="+run,
			"SPOOL_TEST_SEED="+strconv.FormatUint(seed, 10))
	}
	for i := 1; i <= batchKills; i++ {
		run := fmt.Sprintf("k%d", i)
		base := countLines(t, logPath)
		c := childtest.Start(t, "batchcrash", env(run)...)
		if i == 1 {
			childtest.WaitUntil(t, 30*time.Second, "the first run to start work",
				func() bool { return countLines(t, logPath) >= base+5 }, c)
			create(batchCount - batchCount/2)
		}
		target := base + 20 + rng.IntN(120)
		childtest.WaitUntil(t, 30*time.Second, fmt.Sprintf("run %s to write log line %d", run, target),
			func() bool { return countLines(t, logPath) >= target || !live() }, c)
		db.Kill(t, c)
		t.Logf("run %s: SIGKILL at log line %d", run, countLines(t, logPath))
	}
	final := childtest.Start(t, "batchcrash", append(env(finalRun), "SPOOL_TEST_FINAL=1")...)
	final.Wait(60 * time.Second)

	// Callback jobs by batch and kind, from the log.
	f, err := os.Open(logPath)
	require.NoError(t, err)
	defer f.Close()
	jobsOf := map[int64]map[string]map[int64]bool{}
	runs := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if fields[0] != "callback" {
			continue
		}
		require.Len(t, fields, 4, sc.Text())
		b, _ := strconv.ParseInt(fields[1], 10, 64)
		job, _ := strconv.ParseInt(fields[3], 10, 64)
		if jobsOf[b] == nil {
			jobsOf[b] = map[string]map[int64]bool{}
		}
		if jobsOf[b][fields[2]] == nil {
			jobsOf[b][fields[2]] = map[int64]bool{}
		}
		jobsOf[b][fields[2]][job] = true
		runs++
	}
	require.NoError(t, sc.Err())
	withDeath := 0
	for _, id := range batches {
		b, err := q.Inspector().Batch(ctx, id)
		require.NoError(t, err)
		require.Equal(t, batchMembers, b.Total)
		require.Equal(t, batchMembers, b.Done(), "batch %d: %+v", id, b)
		require.Zero(t, b.Cancelled)
		want := map[string]bool{"complete": true, "success": b.Dead == 0, "death": b.Dead > 0}
		for kind, called := range want {
			if !called {
				require.Empty(t, jobsOf[id][kind], "batch %d called %s", id, kind)
				continue
			}
			require.Len(t, jobsOf[id][kind], 1, "batch %d: %s through one job", id, kind)
		}
		require.True(t, jobsOf[id]["complete"][b.CompleteJob], "batch %d: the complete job ran", id)
		if b.Dead > 0 {
			withDeath++
		}
	}
	t.Logf("%d batches × %d members, %d kills: %d callback runs; %d batches had a dead member",
		batchCount, batchMembers, batchKills, runs, withDeath)
}

// batchCrashChild is the worker process of TestBatchCallbacksUnderCrashes.
func batchCrashChild() error {
	ctx := context.Background()
	c, err := openCrashProc(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	run, q, logger, logFile := c.run, c.q, c.logger, c.log
	draw := c.draw
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
	pool.HandleFunc("batch.member", func(ctx context.Context, job *queue.Job) error {
		if _, err := fmt.Fprintf(logFile, "member %s %d\n", run, job.ID); err != nil {
			return err
		}
		time.Sleep(time.Millisecond + rand.N(3*time.Millisecond))
		switch d := draw(); {
		case d < batchDeadPct:
			return queue.Permanent(errors.New("bad record"))
		case d < 20:
			return errors.New("partner hiccup")
		}
		return nil
	})
	pool.Handle("batch.callback", worker.JSON(func(ctx context.Context, job *queue.Job, kind string) error {
		_, err := fmt.Fprintf(logFile, "callback %s %s %d\n", job.Metadata[queue.BatchMetadataKey], kind, job.ID)
		return err
	}))
	if err := pool.Start(ctx); err != nil {
		return err
	}
	if os.Getenv("SPOOL_TEST_FINAL") != "1" {
		_ = childtest.AwaitClose()
		return errors.New("stdin closed before the parent killed this run")
	}
	return drainAndStop(ctx, q, pool, 50*time.Second)
}
