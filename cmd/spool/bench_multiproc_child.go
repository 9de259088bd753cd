package main

// A multiproc child: one of the processes sharing the database file.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

// runMultiprocChild is child process cfg.child: it gets ready, waits for the
// parent's start line on stdin, enqueues and works jobs for cfg.duration,
// and prints its results as one JSON line.
func runMultiprocChild(ctx context.Context, cfg benchConfig, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	c := &mpChild{cfg: cfg, stderr: stderr, logs: &logCounter{counts: map[string]int{}, out: slog.NewTextHandler(stderr, nil)}}
	logger := slog.New(c.logs)
	d, err := childBenchDB(cfg.dbPath)
	if err != nil {
		return err
	}
	store, _, err := d.open(ctx, benchOpen{busyTimeout: cfg.busyTimeout, logger: logger})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close the store: %w", cerr)
		}
	}()
	if err := c.setUp(store, logger); err != nil {
		return err
	}
	if err := c.awaitStart(stdin, stdout); err != nil {
		return err
	}
	stopProfile, err := startProfile(cfg.cpuProfile)
	if err != nil {
		return err
	}
	c.start = time.Now()
	if err := c.pool.Start(ctx); err != nil {
		stopProfile()
		return err
	}
	c.startProducers(ctx)
	window, ranInWindow := c.runWindow(ctx)
	stopProfile()
	if err := c.stopPool(); err != nil {
		return err
	}
	res, err := c.results(window, ranInWindow)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(res)
}

// mpChild is the state of a multiproc child's run.
type mpChild struct {
	cfg    benchConfig
	stderr io.Writer
	logs   *logCounter

	q    *queue.Queue
	pool *worker.Pool

	ranMu    sync.Mutex
	ran      []int64       // IDs of the jobs this process's handlers ran
	lastRun  time.Duration // when the last of them ran, after start
	ranCount atomic.Int64

	start     time.Time // the parent's start signal
	producers []*producer
	stop      atomic.Bool
	enqueued  atomic.Int64
	wg        sync.WaitGroup
}

// setUp makes the queue over store and the pool whose handler records the
// jobs it ran.
func (c *mpChild) setUp(store queue.Store, logger *slog.Logger) error {
	q, err := queue.New(store, queue.Options{Logger: logger})
	if err != nil {
		return err
	}
	pool, err := worker.New(q, worker.Options{
		Queues:        map[string]worker.QueueConfig{queue.DefaultQueue: {MaxWorkers: c.cfg.workers}},
		LeaseDuration: c.cfg.lease,
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	pool.HandleFunc(benchKind, func(_ context.Context, j *queue.Job) error {
		c.ranMu.Lock()
		c.ran = append(c.ran, j.ID)
		c.lastRun = time.Since(c.start)
		c.ranMu.Unlock()
		c.ranCount.Add(1)
		return nil
	})
	c.q, c.pool = q, pool
	return nil
}

// awaitStart tells the parent the child is ready and waits for its start
// line.
func (c *mpChild) awaitStart(stdin io.Reader, stdout io.Writer) error {
	if _, err := fmt.Fprintln(stdout, multiprocReady); err != nil {
		return err
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if strings.TrimSpace(line) != multiprocGo {
		return fmt.Errorf("multiproc child %d: no start line %q from the parent on stdin (read %q, %v)", c.cfg.child, multiprocGo, line, err)
	}
	return nil
}

// startProducers starts cfg.producers goroutines calling Enqueue in a loop
// until c.stop is set or ctx is done.
func (c *mpChild) startProducers(ctx context.Context) {
	c.producers = make([]*producer, c.cfg.producers)
	for i := range c.producers {
		p := &producer{errors: map[string]int{}}
		c.producers[i] = p
		c.wg.Go(func() { c.produce(ctx, i, p) })
	}
}

// produce is producer i's loop.
func (c *mpChild) produce(ctx context.Context, i int, p *producer) {
	// A payload like the other scenarios', with an ID unique across
	// the processes of a run.
	seq := c.cfg.child*1_000_000_000_000 + i*1_000_000_000
	for !c.stop.Load() && ctx.Err() == nil {
		t0 := time.Now()
		r, err := c.q.Enqueue(ctx, queue.NewJob{Kind: benchKind, Payload: benchPayload(seq)})
		t1 := time.Now()
		seq++
		p.latency = append(p.latency, t1.Sub(t0))
		if err != nil {
			kind := enqueueErrorKind(err)
			if p.errors[kind] == 0 {
				fmt.Fprintf(c.stderr, "first %s error of producer %d: %v\n", kind, i, err)
			}
			p.errors[kind]++
			continue
		}
		p.acked = append(p.acked, r.ID)
		p.returned = append(p.returned, t1.Sub(c.start))
		c.enqueued.Add(1)
	}
}

// runWindow reports progress every second until cfg.duration is over or
// ctx is done, then stops the producers and waits for them. It returns
// the window and the handler runs within it.
func (c *mpChild) runWindow(ctx context.Context) (time.Duration, int64) {
	timer := time.NewTimer(c.cfg.duration)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var drained <-chan time.Time
	if c.draining() {
		poll := time.NewTicker(10 * time.Millisecond)
		defer poll.Stop()
		drained = poll.C
	}
wait:
	for {
		select {
		case <-timer.C:
			break wait
		case <-drained:
			if c.drained() {
				timer.Stop()
				break wait
			}
		case <-ctx.Done():
			timer.Stop()
			fmt.Fprintf(c.stderr, "interrupted after %.1fs; stopping\n", time.Since(c.start).Seconds())
			break wait
		case now := <-tick.C:
			fmt.Fprintf(c.stderr, "%.0fs: %d enqueued, %d run\n", now.Sub(c.start).Seconds(), c.enqueued.Load(), c.ranCount.Load())
		}
	}
	c.stop.Store(true)
	window := time.Since(c.start)
	ranInWindow := c.ranCount.Load()
	c.wg.Wait()
	return window, ranInWindow
}

// draining reports whether the run is a drain of the parent's backlog:
// no producers, so the window ends once no job is left.
func (c *mpChild) draining() bool { return c.cfg.backlog > 0 && c.cfg.producers == 0 }

// drained reports whether the processes have run the whole backlog
// between them. Each process publishes its count of handler runs in a
// file of the parent's directory (written whole, then renamed) and sums
// everyone's: a probe of the database would itself slow the drain it
// times. A job run twice counts twice, so a drain with duplicates may end
// with jobs left; the parent's delivery check reports them.
func (c *mpChild) drained() bool {
	dir := c.cfg.childDir
	mine := filepath.Join(dir, fmt.Sprintf("runs-%d", c.cfg.child))
	if err := os.WriteFile(mine+".tmp", []byte(strconv.FormatInt(c.ranCount.Load(), 10)), 0o600); err != nil {
		return false
	}
	if err := os.Rename(mine+".tmp", mine); err != nil {
		return false
	}
	var total int64
	for n := 1; n <= c.cfg.procs; n++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("runs-%d", n)))
		if err != nil {
			continue // not written yet
		}
		v, _ := strconv.ParseInt(string(b), 10, 64)
		total += v
	}
	return total >= int64(c.cfg.backlog)
}

// stopPool stops the pool gracefully, within multiprocStopTimeout.
func (c *mpChild) stopPool() error {
	sctx, cancel := context.WithTimeout(context.Background(), multiprocStopTimeout)
	defer cancel()
	if err := c.pool.Stop(sctx); err != nil {
		return fmt.Errorf("multiproc child %d: stop the pool: %w", c.cfg.child, err)
	}
	return nil
}

// results writes the IDs of the jobs enqueued and run to the parent's
// directory and sums up the run.
func (c *mpChild) results(window time.Duration, ranInWindow int64) (multiprocProc, error) {
	res := multiprocProc{Proc: c.cfg.child, PID: os.Getpid(), Seconds: round(window.Seconds(), 3), Errors: map[string]int{}}
	var (
		acked     []int64
		latencies []time.Duration
		returned  []time.Duration
	)
	for _, p := range c.producers {
		acked = append(acked, p.acked...)
		latencies = append(latencies, p.latency...)
		returned = append(returned, p.returned...)
		for k, n := range p.errors {
			res.Errors[k] += n
		}
	}
	c.ranMu.Lock()
	runs := slices.Clone(c.ran)
	res.LastRunSeconds = round(c.lastRun.Seconds(), 4)
	c.ranMu.Unlock()
	if err := writeIDs(filepath.Join(c.cfg.childDir, idsFile("enqueued", c.cfg.child)), acked); err != nil {
		return res, err
	}
	if err := writeIDs(filepath.Join(c.cfg.childDir, idsFile("ran", c.cfg.child)), runs); err != nil {
		return res, err
	}
	res.Enqueued, res.Completed = len(acked), len(runs)
	slices.Sort(returned)
	inWindow, _ := slices.BinarySearch(returned, window+1)
	res.EnqueuedPerSec = round(float64(inWindow)/window.Seconds(), 0)
	res.CompletedPerSec = round(float64(ranInWindow)/window.Seconds(), 0)
	setEnqueueLatencies(&res, latencies)
	res.LongestStallMs = ms(longestGap(returned, window))
	res.BusyErrors = res.Errors["busy"]
	res.Warnings = c.logs.snapshot()
	countLeaseWarnings(&res)
	if rss, ok := peakRSS(); ok {
		res.PeakRSSMB = &rss
	}
	return res, nil
}

// setEnqueueLatencies sets the Enqueue latency percentiles of res from the
// latencies of every call.
func setEnqueueLatencies(res *multiprocProc, latencies []time.Duration) {
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	res.P50ms = ms(percentile(latencies, 50))
	res.P99ms = ms(percentile(latencies, 99))
	res.P999ms = ms(percentile(latencies, 99.9))
	res.MaxMs = ms(latencies[len(latencies)-1])
}

// countLeaseWarnings counts the rescues and lost leases among the pool's
// warnings in res.
func countLeaseWarnings(res *multiprocProc) {
	for msg, n := range res.Warnings {
		switch {
		case strings.HasPrefix(msg, logRescued):
			res.Rescued += n
		case strings.HasPrefix(msg, logLostBeforeSettle), strings.HasPrefix(msg, logHandlerLostLease):
			res.LeaseLost += n
		}
	}
}

// producer is one enqueueing goroutine's record.
type producer struct {
	latency  []time.Duration // every call
	returned []time.Duration // successful calls' returns, after the start
	acked    []int64         // job IDs of successful calls
	errors   map[string]int  // failed calls by kind
}

// enqueueErrorKind names the kind of a failed Enqueue's error.
func enqueueErrorKind(err error) string {
	switch {
	case errors.Is(err, queue.ErrBusy):
		return "busy"
	case errors.Is(err, queue.ErrQueueFull):
		return "queue_full"
	case errors.Is(err, queue.ErrFull):
		return "disk_full"
	case errors.Is(err, queue.ErrReadOnly):
		return "read_only"
	case errors.Is(err, queue.ErrClosed):
		return "closed"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	default:
		return "other"
	}
}
