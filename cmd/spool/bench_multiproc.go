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
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spooljobs/spool/queue"
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
	if cfg.busyTimeout != 0 && isPostgresURL(cfg.dbPath) {
		return usageErrorf("-busy-timeout %s: applies only to a SQLite file (PostgreSQL writers wait on row locks)", cfg.busyTimeout)
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
		if isPostgresURL(cfg.dbPath) {
			_, err := childBenchDB(cfg.dbPath)
			return err
		}
		if _, err := os.Stat(cfg.dbPath); err != nil {
			return usageErrorf("-db %s: %v", cfg.dbPath, err)
		}
		return nil
	}
	if cfg.childDir != "" {
		return usageErrorf("-mp-dir applies only with -mp-child (it is set by the multiproc parent)")
	}
	return checkNewDB(cfg.dbPath)
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
	// LastRunSeconds is when the process's last handler run began, from
	// the start signal (0: it ran none).
	LastRunSeconds float64 `json:"last_run_seconds"`
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

	// Backlog is -backlog: jobs enqueued before the processes started.
	// Without producers the run is a drain of them: DrainSeconds is the
	// latest LastRunSeconds of any process, DrainedPerSec the backlog
	// over it.
	Backlog       int     `json:"backlog,omitempty"`
	DrainSeconds  float64 `json:"drain_seconds,omitempty"`
	DrainedPerSec float64 `json:"drained_per_sec,omitempty"`

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

// runMultiproc is the parent: it runs cfg.procs children on one database and
// reports what they measured.
func runMultiproc(ctx context.Context, cfg benchConfig, stdout, stderr io.Writer) (err error) {
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
	d, err := newBenchDB(path)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := d.remove(context.WithoutCancel(ctx)); err == nil && rerr != nil {
			err = rerr
		}
	}()
	res, err := runMultiprocOn(ctx, cfg, exe, dir, d, stderr)
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
		return fmt.Errorf("delivery check failed: %d of %s lost (never run, and gone from %s)", res.Lost, plural(res.Enqueued, "acknowledged job"), d.shown)
	}
	return nil
}

// runMultiprocOn creates and migrates the run's database d, runs the
// children on it and merges their results.
func runMultiprocOn(ctx context.Context, cfg benchConfig, exe, dir string, d *benchDB, stderr io.Writer) (*multiprocResult, error) {
	// Create and migrate the database before the children open it.
	store, _, err := d.open(ctx, benchOpen{})
	if err != nil {
		return nil, err
	}
	if err := store.Close(); err != nil {
		return nil, fmt.Errorf("close the new store: %w", err)
	}
	logw := &lockedWriter{w: stderr}
	if cfg.backlog > 0 {
		if err := enqueueBacklog(ctx, cfg, dir, d, logw); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(logw, "multiproc: %s on %s, each %s and %s, for %s\n",
		plural(cfg.procs, "process"), d.shown, plural(cfg.producers, "producer"), plural(cfg.workers, "worker"), cfg.duration)
	procs, err := runChildren(ctx, cfg, exe, dir, d.arg, logw)
	if err != nil {
		return nil, err
	}
	return mergeMultiproc(ctx, cfg, dir, d, procs, logw)
}

// enqueueBacklog enqueues cfg.backlog jobs (untimed) before the children
// start, records their IDs as process 0's, and on SQLite checkpoints the
// WAL, as the drain scenario does.
func enqueueBacklog(ctx context.Context, cfg benchConfig, dir string, d *benchDB, logw io.Writer) error {
	store, file, err := d.open(ctx, benchOpen{})
	if err != nil {
		return err
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		return err
	}
	fmt.Fprintf(logw, "multiproc: enqueueing a backlog of %s (untimed)\n", plural(cfg.backlog, "job"))
	ids := make([]int64, 0, cfg.backlog)
	batch := make([]queue.NewJob, 0, 1000)
	for seq := range cfg.backlog {
		batch = append(batch, plainJob(seq))
		if len(batch) < cap(batch) && seq < cfg.backlog-1 {
			continue
		}
		res, err := q.EnqueueMany(ctx, batch)
		if err != nil {
			return fmt.Errorf("multiproc: enqueue the backlog: %w", err)
		}
		for _, r := range res {
			ids = append(ids, r.ID)
		}
		batch = batch[:0]
	}
	if file != nil {
		if err := file.Checkpoint(ctx); err != nil {
			return fmt.Errorf("multiproc: checkpoint after the backlog: %w", err)
		}
	}
	if err := writeIDs(filepath.Join(dir, idsFile("enqueued", 0)), ids); err != nil {
		return err
	}
	return store.Close()
}
