package main

// The multiproc scenario: N processes on one database file. The parent
// (runMultiproc) creates the file, runs this binary again as N children
// with the hidden flags -mp-child and -mp-dir, starts them together, and
// merges what they report. Each child (runMultiprocChild) enqueues from P
// producers and works jobs with a pool of W workers for the duration, then
// writes the IDs of the jobs it enqueued and of the jobs it ran to files in
// the -mp-dir directory and prints one JSON line of results. The parent
// reads those files and the jobs left in the database to count the jobs run
// more than once and the jobs lost.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/spooljobs/spool/worker"
)

const (
	// multiprocDefaultWorkers is the multiproc scenario's default -workers
	// per process.
	multiprocDefaultWorkers = 16
	// multiprocMaxProcs bounds -procs.
	multiprocMaxProcs = 64
	// multiprocReady is the line a child prints once its store, queue and
	// pool are ready; multiprocGo is the line the parent then sends to
	// every child's stdin to start them together.
	multiprocReady = "ready"
	multiprocGo    = "go"
	// multiprocStopTimeout bounds a child's graceful pool stop.
	multiprocStopTimeout = 30 * time.Second
)

// The pool's log messages the children count. The pool exposes no counter
// for them; the messages are worker's (worker/run.go, worker/pool.go).
const (
	logRescued          = "spool: rescued job with expired lease"
	logLostBeforeSettle = "spool: lost lease before settling"
	logHandlerLostLease = "spool: handler stopped after losing its lease"
)

// checkMultiproc checks and completes the multiproc flags of cfg.
func checkMultiproc(cfg *benchConfig) error {
	if cfg.duration <= 0 {
		return usageErrorf("-duration %s: must be positive", cfg.duration)
	}
	if cfg.procs > multiprocMaxProcs {
		return usageErrorf("-procs %d: at most %d", cfg.procs, multiprocMaxProcs)
	}
	if cfg.lease != 0 && cfg.lease < time.Second {
		return usageErrorf("-lease %s: must be 0 (the pool's default, 30s) or at least 1s", cfg.lease)
	}
	if cfg.busyTimeout < 0 {
		return usageErrorf("-busy-timeout %s: must not be negative (0 is the store's default, 5s)", cfg.busyTimeout)
	}
	if cfg.child < 0 {
		return usageErrorf("-mp-child %d: must be positive", cfg.child)
	}
	if cfg.child > 0 {
		// A child works on the file its parent made.
		if cfg.childDir == "" || cfg.dbPath == "" {
			return usageErrorf("-mp-child needs -mp-dir and -db (it is set by the multiproc parent)")
		}
		if _, err := os.Stat(cfg.dbPath); err != nil {
			return usageErrorf("-db %s: %v", cfg.dbPath, err)
		}
		return nil
	}
	if cfg.childDir != "" {
		return usageErrorf("-mp-dir applies only with -mp-child (it is set by the multiproc parent)")
	}
	if cfg.dbPath != "" {
		if _, err := os.Stat(cfg.dbPath); err == nil {
			return usageErrorf("-db %s already exists; give the path of a new file (bench accounts for every job in it)", cfg.dbPath)
		} else if !errors.Is(err, os.ErrNotExist) {
			return usageErrorf("-db %s: %v", cfg.dbPath, err)
		}
	}
	return nil
}

// multiprocProc is one process's results: the JSON line a child prints, and
// a row of the parent's report.
type multiprocProc struct {
	Proc int `json:"proc"`
	PID  int `json:"pid"`
	// Seconds is the window: from the start signal until the producers
	// were told to stop.
	Seconds float64 `json:"seconds"`
	// Enqueued counts Enqueue calls that returned nil, including those
	// that returned after the window; EnqueuedPerSec only those that
	// returned within it.
	Enqueued       int     `json:"enqueued"`
	EnqueuedPerSec float64 `json:"enqueued_per_sec"`
	// Completed counts handler runs in this process (of any process's
	// jobs), including those during the pool's stop; CompletedPerSec only
	// those that returned within the window.
	Completed       int     `json:"completed"`
	CompletedPerSec float64 `json:"completed_per_sec"`
	// Enqueue latency over every call, failed ones included.
	P50ms  float64 `json:"enqueue_p50_ms"`
	P99ms  float64 `json:"enqueue_p99_ms"`
	P999ms float64 `json:"enqueue_p999_ms"`
	MaxMs  float64 `json:"enqueue_max_ms"`
	// LongestStallMs is the longest time in which no producer of the
	// process had an Enqueue return nil, from the start signal on.
	LongestStallMs float64 `json:"longest_stall_ms"`
	// Errors counts failed Enqueue calls by kind (busy, queue_full,
	// disk_full, read_only, closed, cancelled, other); BusyErrors is
	// Errors["busy"].
	Errors     map[string]int `json:"errors"`
	BusyErrors int            `json:"busy_errors"`
	// Rescued counts the jobs this process's pool rescued after their
	// lease expired: every worker was alive, so each was taken from a
	// live one. LeaseLost counts handlers in this process whose lease was
	// lost before their result was settled.
	Rescued   int `json:"rescued"`
	LeaseLost int `json:"lease_lost"`
	// Warnings counts the warning and error log records of the process's
	// store, queue and pool by message.
	Warnings  map[string]int `json:"warnings"`
	PeakRSSMB *float64       `json:"peak_rss_mb"`
}

// multiprocResult is the report -json prints.
type multiprocResult struct {
	Scenario      string  `json:"scenario"`
	Procs         int     `json:"procs"`
	Producers     int     `json:"producers"`
	Workers       int     `json:"workers"`
	Seconds       float64 `json:"seconds"`
	LeaseMs       int64   `json:"lease_ms"`        // 0: the pool's default
	BusyTimeoutMs int64   `json:"busy_timeout_ms"` // 0: the store's default

	Processes []multiprocProc `json:"processes"`

	// ThroughputRatio is the highest enqueued/s of a process over the
	// lowest (nil when the lowest is 0); CompletedRatio the same for
	// completed/s.
	ThroughputRatio  *float64 `json:"throughput_ratio"`
	CompletedRatio   *float64 `json:"completed_ratio"`
	SlowestEnqueueMs float64  `json:"slowest_enqueue_ms"`
	LongestStallMs   float64  `json:"longest_stall_ms"`
	BusyErrors       int      `json:"busy_errors"`
	Rescued          int      `json:"rescued"`
	LeaseLost        int      `json:"lease_lost"`

	// Enqueued is the jobs acknowledged (Enqueue returned nil) over all
	// processes. Each is Completed (run and gone from the file), Left
	// (still in the file, by state) or Lost (never run, and gone).
	Enqueued  int            `json:"enqueued"`
	Completed int            `json:"completed"`
	Left      map[string]int `json:"left"`
	Lost      int            `json:"lost"`
	// Duplicates counts jobs run more than once; ExtraRuns the runs beyond
	// each job's first.
	Duplicates int `json:"duplicates"`
	ExtraRuns  int `json:"extra_runs"`
	// RanUnacknowledged counts jobs that ran although their Enqueue call
	// failed.
	RanUnacknowledged int `json:"ran_unacknowledged"`
}

// runMultiproc is the parent: it runs cfg.procs children on one file and
// reports what they measured.
func runMultiproc(ctx context.Context, cfg benchConfig, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("multiproc: find this program to run it as children: %w", err)
	}
	if strings.HasSuffix(filepath.Base(exe), ".test") {
		return fmt.Errorf("multiproc: runs %s again as its children, which is a test binary; run the built spool command", exe)
	}
	dir, err := os.MkdirTemp("", "spool-multiproc-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := cfg.dbPath
	if path == "" {
		path = filepath.Join(dir, "bench.db")
	}
	// Create and migrate the file before the children open it.
	store, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return err
	}
	if err := store.Close(); err != nil {
		return fmt.Errorf("close the new store: %w", err)
	}
	logw := &lockedWriter{w: stderr}
	fmt.Fprintf(logw, "multiproc: %d processes on %s, each %d producers and %d workers, for %s\n",
		cfg.procs, path, cfg.producers, cfg.workers, cfg.duration)

	procs, err := runChildren(ctx, cfg, exe, dir, path, logw)
	if err != nil {
		return err
	}
	res, err := mergeMultiproc(ctx, cfg, dir, path, procs, logw)
	if err != nil {
		return err
	}
	if cfg.json {
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			return err
		}
	} else {
		printMultiproc(stdout, res)
	}
	if res.Lost > 0 {
		return fmt.Errorf("delivery check failed: %d of %d acknowledged jobs lost (never run, and gone from %s)", res.Lost, res.Enqueued, path)
	}
	return nil
}

// child is one running child process.
type child struct {
	n     int
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// runChildren starts the children, waits until every one is ready, starts
// them together and collects their results.
func runChildren(ctx context.Context, cfg benchConfig, exe, dir, path string, logw *lockedWriter) ([]multiprocProc, error) {
	var children []*child
	defer func() {
		// On an early return, end the children still running.
		for _, c := range children {
			if c.cmd.ProcessState == nil {
				c.cmd.Process.Kill()
				c.cmd.Wait()
			}
		}
	}()
	for n := 1; n <= cfg.procs; n++ {
		cmd := exec.CommandContext(ctx, exe, "bench", "-scenario", "multiproc",
			"-mp-child", strconv.Itoa(n), "-mp-dir", dir, "-db", path,
			"-duration", cfg.duration.String(), "-producers", strconv.Itoa(cfg.producers),
			"-workers", strconv.Itoa(cfg.workers), "-lease", cfg.lease.String(),
			"-busy-timeout", cfg.busyTimeout.String())
		// Interrupted, the children stop early and still report.
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = 2 * multiprocStopTimeout
		cmd.Stderr = &prefixWriter{prefix: fmt.Sprintf("proc %d: ", n), w: logw}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("multiproc: start child %d: %w", n, err)
		}
		children = append(children, &child{n: n, cmd: cmd, stdin: stdin, out: bufio.NewReaderSize(stdout, 1<<16)})
	}
	for _, c := range children {
		line, err := c.out.ReadString('\n')
		if strings.TrimSpace(line) != multiprocReady {
			return nil, fmt.Errorf("multiproc: child %d did not get ready (read %q, %v); its stderr is above", c.n, line, err)
		}
	}
	for _, c := range children {
		if _, err := io.WriteString(c.stdin, multiprocGo+"\n"); err != nil {
			return nil, fmt.Errorf("multiproc: start child %d: %w", c.n, err)
		}
		c.stdin.Close()
	}
	procs := make([]multiprocProc, len(children))
	var failed []string
	for i, c := range children {
		line, rerr := c.out.ReadString('\n')
		io.Copy(io.Discard, c.out)
		werr := c.cmd.Wait()
		if werr != nil || rerr != nil {
			failed = append(failed, fmt.Sprintf("child %d: %v", c.n, errors.Join(werr, rerr)))
			continue
		}
		if err := json.Unmarshal([]byte(line), &procs[i]); err != nil {
			failed = append(failed, fmt.Sprintf("child %d printed %.80q, not its results: %v", c.n, line, err))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("multiproc: %s (their stderr is above)", strings.Join(failed, "; "))
	}
	return procs, nil
}

// mergeMultiproc combines the children's results, their job ID files and
// the jobs left in the file into the report.
func mergeMultiproc(ctx context.Context, cfg benchConfig, dir, path string, procs []multiprocProc, stderr io.Writer) (*multiprocResult, error) {
	res := &multiprocResult{
		Scenario: "multiproc", Procs: cfg.procs, Producers: cfg.producers, Workers: cfg.workers,
		Seconds: cfg.duration.Seconds(), LeaseMs: cfg.lease.Milliseconds(), BusyTimeoutMs: cfg.busyTimeout.Milliseconds(),
		Processes: procs, Left: map[string]int{},
	}
	var acked, ran []int64
	for _, p := range procs {
		a, err := readIDs(filepath.Join(dir, idsFile("enqueued", p.Proc)))
		if err != nil {
			return nil, err
		}
		if len(a) != p.Enqueued {
			return nil, fmt.Errorf("multiproc: child %d reports %d jobs enqueued but its file lists %d", p.Proc, p.Enqueued, len(a))
		}
		r, err := readIDs(filepath.Join(dir, idsFile("ran", p.Proc)))
		if err != nil {
			return nil, err
		}
		if len(r) != p.Completed {
			return nil, fmt.Errorf("multiproc: child %d reports %d handler runs but its file lists %d", p.Proc, p.Completed, len(r))
		}
		acked, ran = append(acked, a...), append(ran, r...)
		res.SlowestEnqueueMs = max(res.SlowestEnqueueMs, p.MaxMs)
		res.LongestStallMs = max(res.LongestStallMs, p.LongestStallMs)
		res.BusyErrors += p.BusyErrors
		res.Rescued += p.Rescued
		res.LeaseLost += p.LeaseLost
	}
	res.ThroughputRatio = spread(procs, func(p multiprocProc) float64 { return p.EnqueuedPerSec })
	res.CompletedRatio = spread(procs, func(p multiprocProc) float64 { return p.CompletedPerSec })

	left, err := jobsLeft(ctx, path)
	if err != nil {
		return nil, err
	}
	slices.Sort(acked)
	slices.Sort(ran)
	runs := func(id int64) int { // how often job id ran
		i, found := slices.BinarySearch(ran, id)
		if !found {
			return 0
		}
		n := 0
		for ; i < len(ran) && ran[i] == id; i++ {
			n++
		}
		return n
	}
	var lost []int64
	for i, id := range acked {
		if i > 0 && acked[i-1] == id {
			return nil, fmt.Errorf("multiproc: job %d was acknowledged to two Enqueue calls", id)
		}
		switch state, inFile := left[id]; {
		case inFile:
			res.Left[string(state)]++
		case runs(id) > 0:
			res.Completed++
		default:
			lost = append(lost, id)
		}
	}
	res.Enqueued, res.Lost = len(acked), len(lost)
	for i := 0; i < len(ran); {
		j := i
		for j < len(ran) && ran[j] == ran[i] {
			j++
		}
		if j-i > 1 {
			res.Duplicates++
			res.ExtraRuns += j - i - 1
		}
		if _, found := slices.BinarySearch(acked, ran[i]); !found {
			res.RanUnacknowledged++
		}
		i = j
	}
	if len(lost) > 0 {
		fmt.Fprintf(stderr, "multiproc: lost jobs (the first IDs): %v\n", lost[:min(len(lost), 10)])
	}
	return res, nil
}

// spread returns the highest of f over procs divided by the lowest, or nil
// when the lowest is 0.
func spread(procs []multiprocProc, f func(multiprocProc) float64) *float64 {
	if len(procs) == 0 {
		return nil
	}
	lo, hi := f(procs[0]), f(procs[0])
	for _, p := range procs[1:] {
		lo, hi = min(lo, f(p)), max(hi, f(p))
	}
	if lo <= 0 {
		return nil
	}
	v := round(hi/lo, 3)
	return &v
}

// jobsLeft returns the state of every job left in the file at path, by ID.
func jobsLeft(ctx context.Context, path string) (map[int64]queue.State, error) {
	store, err := sqlite.Open(ctx, path, sqlite.Options{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("multiproc: open %s to check delivery: %w", path, err)
	}
	defer store.Close()
	left := map[int64]queue.State{}
	var before int64
	for {
		// Newest first; every page is the jobs below the last ID.
		jobs, err := store.List(ctx, queue.ListFilter{BeforeID: before, Limit: 1000, OmitPayload: true})
		if err != nil {
			return nil, fmt.Errorf("multiproc: list the jobs left in %s: %w", path, err)
		}
		if len(jobs) == 0 {
			return left, nil
		}
		for _, j := range jobs {
			left[j.ID] = j.State
		}
		before = jobs[len(jobs)-1].ID
	}
}

func idsFile(what string, proc int) string {
	return fmt.Sprintf("%s-%d.ids", what, proc)
}

// writeIDs writes ids to path as little-endian 64-bit integers.
func writeIDs(path string, ids []int64) error {
	buf := make([]byte, 0, 8*len(ids))
	for _, id := range ids {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(id))
	}
	return os.WriteFile(path, buf, 0o600)
}

// readIDs reads a file writeIDs wrote.
func readIDs(path string) ([]int64, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("multiproc: read job IDs: %w", err)
	}
	if len(buf)%8 != 0 {
		return nil, fmt.Errorf("multiproc: job ID file %s has %d bytes, not a multiple of 8", path, len(buf))
	}
	ids := make([]int64, len(buf)/8)
	for i := range ids {
		ids[i] = int64(binary.LittleEndian.Uint64(buf[8*i:]))
	}
	return ids, nil
}

// runMultiprocChild is child process cfg.child: it gets ready, waits for the
// parent's start line on stdin, enqueues and works jobs for cfg.duration,
// and prints its results as one JSON line.
func runMultiprocChild(ctx context.Context, cfg benchConfig, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	logs := &logCounter{counts: map[string]int{}, out: slog.NewTextHandler(stderr, nil)}
	logger := slog.New(logs)
	store, err := sqlite.Open(ctx, cfg.dbPath, sqlite.Options{BusyTimeout: cfg.busyTimeout, Logger: logger})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close the store: %w", cerr)
		}
	}()
	q, err := queue.New(store, queue.Options{Logger: logger})
	if err != nil {
		return err
	}
	pool, err := worker.New(q, worker.Options{
		Queues:        map[string]worker.QueueConfig{queue.DefaultQueue: {MaxWorkers: cfg.workers}},
		LeaseDuration: cfg.lease,
		Logger:        logger,
	})
	if err != nil {
		return err
	}
	var (
		ranMu    sync.Mutex
		ran      []int64 // IDs of the jobs this process's handlers ran
		ranCount atomic.Int64
	)
	pool.HandleFunc(benchKind, func(_ context.Context, j *queue.Job) error {
		ranMu.Lock()
		ran = append(ran, j.ID)
		ranMu.Unlock()
		ranCount.Add(1)
		return nil
	})

	if _, err := fmt.Fprintln(stdout, multiprocReady); err != nil {
		return err
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if strings.TrimSpace(line) != multiprocGo {
		return fmt.Errorf("multiproc child %d: no start line %q from the parent on stdin (read %q, %v)", cfg.child, multiprocGo, line, err)
	}

	start := time.Now()
	if err := pool.Start(ctx); err != nil {
		return err
	}
	producers := make([]*producer, cfg.producers)
	var (
		stop     atomic.Bool
		enqueued atomic.Int64
		wg       sync.WaitGroup
	)
	for i := range producers {
		p := &producer{errors: map[string]int{}}
		producers[i] = p
		// A payload like the other scenarios', with an ID unique across
		// the processes of a run.
		seq := cfg.child*1_000_000_000_000 + i*1_000_000_000
		wg.Go(func() {
			for !stop.Load() && ctx.Err() == nil {
				t0 := time.Now()
				r, err := q.Enqueue(ctx, queue.NewJob{Kind: benchKind, Payload: benchPayload(seq)})
				t1 := time.Now()
				seq++
				p.latency = append(p.latency, t1.Sub(t0))
				if err != nil {
					kind := enqueueErrorKind(err)
					if p.errors[kind] == 0 {
						fmt.Fprintf(stderr, "first %s error of producer %d: %v\n", kind, i, err)
					}
					p.errors[kind]++
					continue
				}
				p.acked = append(p.acked, r.ID)
				p.returned = append(p.returned, t1.Sub(start))
				enqueued.Add(1)
			}
		})
	}
	timer := time.NewTimer(cfg.duration)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
wait:
	for {
		select {
		case <-timer.C:
			break wait
		case <-ctx.Done():
			timer.Stop()
			fmt.Fprintf(stderr, "interrupted after %.1fs; stopping\n", time.Since(start).Seconds())
			break wait
		case now := <-tick.C:
			fmt.Fprintf(stderr, "%.0fs: %d enqueued, %d run\n", now.Sub(start).Seconds(), enqueued.Load(), ranCount.Load())
		}
	}
	stop.Store(true)
	window := time.Since(start)
	ranInWindow := ranCount.Load()
	wg.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), multiprocStopTimeout)
	defer cancel()
	if err := pool.Stop(sctx); err != nil {
		return fmt.Errorf("multiproc child %d: stop the pool: %w", cfg.child, err)
	}

	res := multiprocProc{Proc: cfg.child, PID: os.Getpid(), Seconds: round(window.Seconds(), 3), Errors: map[string]int{}}
	var (
		acked     []int64
		latencies []time.Duration
		returned  []time.Duration
	)
	for _, p := range producers {
		acked = append(acked, p.acked...)
		latencies = append(latencies, p.latency...)
		returned = append(returned, p.returned...)
		for k, n := range p.errors {
			res.Errors[k] += n
		}
	}
	ranMu.Lock()
	runs := slices.Clone(ran)
	ranMu.Unlock()
	if err := writeIDs(filepath.Join(cfg.childDir, idsFile("enqueued", cfg.child)), acked); err != nil {
		return err
	}
	if err := writeIDs(filepath.Join(cfg.childDir, idsFile("ran", cfg.child)), runs); err != nil {
		return err
	}
	res.Enqueued, res.Completed = len(acked), len(runs)
	slices.Sort(returned)
	inWindow, _ := slices.BinarySearch(returned, window+1)
	res.EnqueuedPerSec = round(float64(inWindow)/window.Seconds(), 0)
	res.CompletedPerSec = round(float64(ranInWindow)/window.Seconds(), 0)
	if len(latencies) > 0 {
		slices.Sort(latencies)
		res.P50ms = ms(percentile(latencies, 50))
		res.P99ms = ms(percentile(latencies, 99))
		res.P999ms = ms(percentile(latencies, 99.9))
		res.MaxMs = ms(latencies[len(latencies)-1])
	}
	res.LongestStallMs = ms(longestGap(returned, window))
	res.BusyErrors = res.Errors["busy"]
	res.Warnings = logs.snapshot()
	for msg, n := range res.Warnings {
		switch {
		case strings.HasPrefix(msg, logRescued):
			res.Rescued += n
		case strings.HasPrefix(msg, logLostBeforeSettle), strings.HasPrefix(msg, logHandlerLostLease):
			res.LeaseLost += n
		}
	}
	if rss, ok := peakRSS(); ok {
		res.PeakRSSMB = &rss
	}
	return json.NewEncoder(stdout).Encode(res)
}

// producer is one enqueueing goroutine's record.
type producer struct {
	latency  []time.Duration // every call
	returned []time.Duration // successful calls' returns, after the start
	acked    []int64         // job IDs of successful calls
	errors   map[string]int  // failed calls by kind
}

// longestGap returns the longest time between two successive moments of
// sorted (from 0, the start, on). With none, it is the whole window.
func longestGap(sorted []time.Duration, window time.Duration) time.Duration {
	if len(sorted) == 0 {
		return window
	}
	gap, prev := time.Duration(0), time.Duration(0)
	for _, t := range sorted {
		gap, prev = max(gap, t-prev), t
	}
	return gap
}

func ms(d time.Duration) float64 {
	return round(float64(d)/float64(time.Millisecond), 3)
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

// logCounter is a slog.Handler that counts warning and error records by
// message and passes the first few of each message on to out.
type logCounter struct {
	mu     sync.Mutex
	counts map[string]int
	out    slog.Handler
}

// logShown is how many records of one message a logCounter passes on.
const logShown = 3

func (h *logCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *logCounter) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	h.counts[r.Message]++
	n := h.counts[r.Message]
	h.mu.Unlock()
	if n > logShown {
		return nil
	}
	if n == logShown {
		r.AddAttrs(slog.String("note", "further records of this message are only counted"))
	}
	return h.out.Handle(ctx, r)
}

// WithAttrs and WithGroup keep counting by message; the attributes and
// groups are dropped from the records passed on.
func (h *logCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logCounter) WithGroup(string) slog.Handler      { return h }

func (h *logCounter) snapshot() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.counts)
}

// lockedWriter serialises writes of whole lines from several children.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes each complete line it is given to w with prefix in
// front; a child's stderr goes through one.
type prefixWriter struct {
	prefix string
	w      io.Writer
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := append([]byte(p.prefix), p.buf[:i+1]...)
		if _, err := p.w.Write(line); err != nil {
			return len(b), err
		}
		p.buf = p.buf[i+1:]
	}
}

func printMultiproc(w io.Writer, r *multiprocResult) {
	orDefault := func(ms int64, def string) string {
		if ms == 0 {
			return "default (" + def + ")"
		}
		return (time.Duration(ms) * time.Millisecond).String()
	}
	ratio := func(v *float64) string {
		if v == nil {
			return "- (a process made no progress)"
		}
		return strconv.FormatFloat(*v, 'f', 2, 64)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\t%s\n", r.Scenario)
	fmt.Fprintf(tw, "processes\t%d\n", r.Procs)
	fmt.Fprintf(tw, "producers\t%d per process\n", r.Producers)
	fmt.Fprintf(tw, "workers\t%d per process\n", r.Workers)
	fmt.Fprintf(tw, "seconds\t%g\n", r.Seconds)
	fmt.Fprintf(tw, "lease\t%s\n", orDefault(r.LeaseMs, "30s"))
	fmt.Fprintf(tw, "busy timeout\t%s\n", orDefault(r.BusyTimeoutMs, "5s"))
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "proc\tenqueued/s\tcompleted/s\tp50 ms\tp99 ms\tp99.9 ms\tmax ms\tstall ms\tErrBusy\tother errors\trescued\tlease lost\tlog warnings\t\n")
	for _, p := range r.Processes {
		other := 0
		for k, n := range p.Errors {
			if k != "busy" {
				other += n
			}
		}
		warnings := 0
		for _, n := range p.Warnings {
			warnings += n
		}
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t%d\t%d\t\n", p.Proc, p.EnqueuedPerSec, p.CompletedPerSec,
			p.P50ms, p.P99ms, p.P999ms, p.MaxMs, p.LongestStallMs, p.BusyErrors, other, p.Rescued, p.LeaseLost, warnings)
	}
	tw.Flush()
	fmt.Fprintln(w)
	var left []string
	total := 0
	for _, s := range slices.Sorted(maps.Keys(r.Left)) {
		left = append(left, fmt.Sprintf("%s %d", s, r.Left[s]))
		total += r.Left[s]
	}
	leftText := strconv.Itoa(total)
	if len(left) > 0 {
		leftText += " (" + strings.Join(left, ", ") + ")"
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "enqueued/s ratio max/min\t%s\n", ratio(r.ThroughputRatio))
	fmt.Fprintf(tw, "completed/s ratio max/min\t%s\n", ratio(r.CompletedRatio))
	fmt.Fprintf(tw, "slowest enqueue\t%.3f ms\n", r.SlowestEnqueueMs)
	fmt.Fprintf(tw, "longest stall\t%.3f ms\n", r.LongestStallMs)
	fmt.Fprintf(tw, "enqueued (acknowledged)\t%d\n", r.Enqueued)
	fmt.Fprintf(tw, "completed\t%d\n", r.Completed)
	fmt.Fprintf(tw, "left in the file\t%s\n", leftText)
	fmt.Fprintf(tw, "lost\t%d\n", r.Lost)
	fmt.Fprintf(tw, "run more than once\t%d jobs (%d extra runs)\n", r.Duplicates, r.ExtraRuns)
	fmt.Fprintf(tw, "run though Enqueue failed\t%d\n", r.RanUnacknowledged)
	tw.Flush()
}
