package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

var benchCommand = &command{
	name:    "bench",
	summary: "measure throughput and latency of a scenario on a fresh database",
	run:     runBench,
}

const benchAbout = `Usage: spool bench [flags]

Bench runs one scenario against a fresh spool database file and reports
throughput, latency and peak memory as a table, or with -json as one JSON
object on stdout. Progress goes to stderr. Every run checks delivery per job:
"lost" counts jobs that never reached their handler, "duplicates" jobs
handled more than once; either makes the command exit non-zero.

Scenarios:
  drain         -jobs N (100000) enqueued beforehand (untimed, then the WAL
                is checkpointed); timed from starting the pool until the N-th
                job was handled by a no-op handler.
  enqueue       -producers P (16) goroutines each call Enqueue N/P times
                (-jobs 50000); no workers. Each call returns once its job is
                committed.
  enqueue-many  batches of 1000 through EnqueueMany (-jobs 200000), from
                -producers P (1) goroutines; no workers.
  latency       workers running; -producers P (4) enqueue one job at a time
                at a total -rate R (1000 jobs/s) for -duration D (10s), open
                loop. Latency is handler start minus the moment before the
                Enqueue call; p50/p99/max are reported.
  mixed         like drain (-jobs 100000), with four priority levels and a
                fifth of the jobs due in the near past or future (run_at
                within ±1s of their enqueue).
  backlog       -jobs N (10000) jobs wait behind 20000 older ones; the timed
                drain handles those 20000, so N jobs wait throughout. The
                latency fields are the pool's Lease calls. Compare -jobs 10000
                with -jobs 1000000.
  multiproc     -procs N (2) processes (this binary run again as children)
                share one database file, started together, for -duration D
                (10s): each runs -producers P (8) goroutines calling Enqueue
                in a loop and a pool of -workers W (16) running the jobs,
                then stops its producers and stops its pool gracefully.
                -lease and -busy-timeout set the pool's lease and the
                store's busy timeout (0: their defaults, 30s and 5s).
                Reported per process: enqueued/s and completed/s in the
                window, Enqueue latency p50/p99/p99.9/max (failed calls
                included), the longest stall (the longest time no producer
                of the process had an Enqueue return successfully), errors
                by kind (ErrBusy apart), jobs rescued from a live worker
                and leases lost. Across processes: the enqueued/s ratio
                max/min, the slowest Enqueue, jobs run more than once, jobs
                left in the file and jobs lost (acknowledged, never run and
                gone). Only lost jobs make the command exit non-zero.
                -backlog N enqueues N jobs before the processes start (the
                WAL checkpointed); with no -producers the run is a drain
                across the processes, ending once none is left (-duration
                is then its cap), and reports the drain's jobs/s, timed
                from the start signal to the last handler run. Compare
                -procs 1 with -procs 3 at the same total -workers.

-max-running N sets the queue's limit on running jobs (QueueSettings.MaxRunning,
shared by every process) before the pool starts: compare a drain with
-max-running equal to -workers and one without, to see what the limit costs.
-partition-keys N spreads drain's jobs round-robin over N partition keys
(NewJob.PartitionKey) and -max-running-per-key N sets the queue's
QueueSettings.MaxRunningPerKey: compare a drain of keyed jobs with and
without the per-key limit.

-keys N (drain only) gives job i the ordering key "order:<i mod N>": at most N
jobs are ready at once, each key's next job promoted as the one before it ends.
Compare -keys 1000 with no -keys to see what ordering costs.

The enqueue scenarios then drain their jobs (untimed) to check delivery.
Workers default to the pool's default (100), in multiproc to 16. Set -db to keep the file; it
must not exist yet. With -db postgres://… the run (multiproc's children
too) uses a fresh schema on that server, dropped afterwards; the WAL
checkpoint and -busy-timeout are SQLite's and do not apply there.

Flags:
`

// benchDrained is how many jobs the backlog scenario drains (timed) ahead of
// its waiting backlog, unless the hidden flag -drained says otherwise.
const benchDrained = 20000

// benchDefaultWorkers is worker.QueueConfig.MaxWorkers' documented default:
// what a zero worker.Options gives the default queue.
const benchDefaultWorkers = 100

// benchMaxJobs bounds the jobs of one run (the per-job bookkeeping takes
// a few bytes each).
const benchMaxJobs = 50_000_000

// benchKind is the kind of every job the bench enqueues.
const benchKind = "bench.noop"

// benchScenario is a scenario: its name, the flags that apply to it with
// their defaults, and its run.
type benchScenario struct {
	name      string
	jobs      int  // default -jobs; 0 when -jobs does not apply
	producers int  // default -producers; 0 when -producers does not apply
	rated     bool // -rate and -duration apply
	timed     bool // -duration applies (without -rate)
	run       func(*bench, context.Context) error
}

// benchScenarios are the scenarios, in the order the usage names them.
func benchScenarios() []benchScenario {
	return []benchScenario{
		{name: "drain", jobs: 100_000, run: (*bench).drain},
		{name: "enqueue", jobs: 50_000, producers: 16, run: (*bench).enqueue},
		{name: "enqueue-many", jobs: 200_000, producers: 1, run: (*bench).enqueueMany},
		{name: "latency", producers: 4, rated: true, run: (*bench).latency},
		{name: "mixed", jobs: 100_000, run: (*bench).mixed},
		{name: "backlog", jobs: 10_000, run: (*bench).backlog},
		{name: "multiproc", producers: 8, timed: true}, // runs apart: runMultiproc
	}
}

// benchConfig is a checked bench command line.
type benchConfig struct {
	scenario   benchScenario
	jobs       int
	workers    int
	producers  int
	rate       int
	duration   time.Duration
	dbPath     string
	json       bool
	cpuProfile string
	drained    int // backlog: jobs drained ahead of the waiting -jobs
	// apart: latency's producers enqueue through a store of their own.
	apart bool
	// maxRunning is the default queue's QueueSettings.MaxRunning, set
	// before the pool starts (0: no limit).
	maxRunning int
	// keys spreads drain's jobs over that many ordering keys (0: none).
	keys int
	// partitionKeys spreads drain's jobs round-robin over this many
	// partition keys (0: none), and maxRunningPerKey is the queue's
	// QueueSettings.MaxRunningPerKey (0: none).
	partitionKeys    int
	maxRunningPerKey int
	// stall ends a wait for handlers when no job was handled for this
	// long; the missing jobs count as lost. Long enough for an expired
	// lease (30s) to be rescued.
	stall time.Duration

	// multiproc only: see bench_multiproc.go.
	procs       int
	backlog     int // jobs the parent enqueues before the children start
	lease       time.Duration
	busyTimeout time.Duration
	child       int    // > 0: run as child process number child
	childDir    string // where a child writes its job ids
}

// benchResult is the one JSON object -json prints. Latency fields are nil
// where a scenario measures none.
type benchResult struct {
	Scenario   string `json:"scenario"`
	Jobs       int    `json:"jobs"`
	Workers    int    `json:"workers"`
	Producers  int    `json:"producers"`
	Rate       int    `json:"rate"`
	Apart      bool   `json:"apart,omitempty"`
	MaxRunning int    `json:"max_running,omitempty"`
	Keys       int    `json:"keys,omitempty"`
	// PartitionKeys and MaxRunningPerKey are -partition-keys and
	// -max-running-per-key.
	PartitionKeys    int      `json:"partition_keys,omitempty"`
	MaxRunningPerKey int      `json:"max_running_per_key,omitempty"`
	Seconds          float64  `json:"seconds"`
	JobsPerSec       float64  `json:"jobs_per_sec"`
	P50ms            *float64 `json:"p50_ms"`
	P99ms            *float64 `json:"p99_ms"`
	MaxMs            *float64 `json:"max_ms"`
	PeakRSSMB        *float64 `json:"peak_rss_mb"`
	Lost             int      `json:"lost"`
	Duplicates       int      `json:"duplicates"`
}

// runBench is the bench command: it runs the scenario and prints its
// report, failing when the delivery check does.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseBench(args, stderr)
	if err != nil {
		return err
	}
	if cfg.scenario.name == "multiproc" {
		if cfg.child > 0 {
			return runMultiprocChild(ctx, cfg, os.Stdin, stdout, stderr)
		}
		return runMultiproc(ctx, cfg, stdout, stderr)
	}
	res, err := runBenchConfig(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	if cfg.json {
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			return err
		}
	} else {
		printBench(stdout, res)
	}
	if res.Lost > 0 || res.Duplicates > 0 {
		return fmt.Errorf("delivery check failed: %d of %s lost, %d handled more than once", res.Lost, plural(res.Jobs, "job"), res.Duplicates)
	}
	return nil
}
