package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
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

The enqueue scenarios then drain their jobs (untimed) to check delivery.
Workers default to the pool's default (100), in multiproc to 16. Set -db to keep the file; it
must not exist yet.

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

type benchScenario struct {
	name      string
	jobs      int  // default -jobs; 0 when -jobs does not apply
	producers int  // default -producers; 0 when -producers does not apply
	rated     bool // -rate and -duration apply
	timed     bool // -duration applies (without -rate)
	run       func(*bench, context.Context) error
}

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
	// stall ends a wait for handlers when no job was handled for this
	// long; the missing jobs count as lost. Long enough for an expired
	// lease (30s) to be rescued.
	stall time.Duration

	// multiproc only: see bench_multiproc.go.
	procs       int
	lease       time.Duration
	busyTimeout time.Duration
	child       int    // > 0: run as child process number child
	childDir    string // where a child writes its job ids
}

// benchResult is the one JSON object -json prints. Latency fields are nil
// where a scenario measures none.
type benchResult struct {
	Scenario   string   `json:"scenario"`
	Jobs       int      `json:"jobs"`
	Workers    int      `json:"workers"`
	Producers  int      `json:"producers"`
	Rate       int      `json:"rate"`
	Seconds    float64  `json:"seconds"`
	JobsPerSec float64  `json:"jobs_per_sec"`
	P50ms      *float64 `json:"p50_ms"`
	P99ms      *float64 `json:"p99_ms"`
	MaxMs      *float64 `json:"max_ms"`
	PeakRSSMB  *float64 `json:"peak_rss_mb"`
	Lost       int      `json:"lost"`
	Duplicates int      `json:"duplicates"`
}

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
		return fmt.Errorf("delivery check failed: %d of %d jobs lost, %d handled more than once", res.Lost, res.Jobs, res.Duplicates)
	}
	return nil
}

func parseBench(args []string, stderr io.Writer) (benchConfig, error) {
	var (
		cfg      benchConfig
		scenario string
	)
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&scenario, "scenario", "drain", "`name`: drain, enqueue, enqueue-many, latency, mixed, backlog or multiproc")
	fs.IntVar(&cfg.jobs, "jobs", 0, "jobs to run, `N` (default: the scenario's; see above)")
	fs.IntVar(&cfg.workers, "workers", 0, "concurrent handlers `W` of the pool (default 100, the pool's default; multiproc 16 per process)")
	fs.IntVar(&cfg.producers, "producers", 0, "enqueueing goroutines `P` (enqueue 16, enqueue-many 1, latency 4, multiproc 8 per process)")
	fs.IntVar(&cfg.rate, "rate", 1000, "total enqueue rate `R` in jobs/s (latency)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long `D` producers enqueue (latency, multiproc)")
	fs.StringVar(&cfg.dbPath, "db", "", "database `path`, which must not exist (default: a new file in a temporary directory, removed afterwards)")
	fs.BoolVar(&cfg.json, "json", false, "print one JSON object on stdout instead of a table")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the timed phase to `file`")
	fs.IntVar(&cfg.drained, "drained", benchDrained, "backlog: jobs drained (timed) ahead of the -jobs waiting")
	fs.IntVar(&cfg.procs, "procs", 2, "processes `N` sharing the database file (multiproc)")
	fs.DurationVar(&cfg.lease, "lease", 0, "each pool's lease duration `D` (multiproc; default 0: the pool's default, 30s)")
	fs.DurationVar(&cfg.busyTimeout, "busy-timeout", 0, "each store's busy timeout `D` (multiproc; default 0: the store's default, 5s)")
	fs.IntVar(&cfg.child, "mp-child", 0, "multiproc: run as child process `N` of the parent")
	fs.StringVar(&cfg.childDir, "mp-dir", "", "multiproc: the `dir` a child writes its job ids to")
	hidden := map[string]bool{"cpuprofile": true, "drained": true, "mp-child": true, "mp-dir": true}
	usage := func() {
		fmt.Fprint(stderr, benchAbout)
		fs.VisitAll(func(f *flag.Flag) {
			if hidden[f.Name] {
				return
			}
			name, text := flag.UnquoteUsage(f)
			fmt.Fprintf(stderr, "  -%s %s\n    \t%s\n", f.Name, name, text)
		})
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return cfg, err
		}
		return cfg, &usageError{err: err}
	}
	if fs.NArg() > 0 {
		return cfg, usageErrorf("unexpected argument %q (bench takes only flags)", fs.Arg(0))
	}
	var names []string
	for _, s := range benchScenarios() {
		names = append(names, s.name)
		if s.name == scenario {
			cfg.scenario = s
		}
	}
	sc := cfg.scenario
	if sc.name == "" {
		return cfg, usageErrorf("unknown scenario %q (want one of %s)", scenario, strings.Join(names, ", "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	multi := sc.name == "multiproc"
	noJobs := "latency runs -rate × -duration jobs"
	if multi {
		noJobs = "multiproc enqueues for -duration"
	}
	for _, c := range []struct {
		flag    string
		applies bool
		why     string
	}{
		{"jobs", sc.jobs > 0, noJobs},
		{"producers", sc.producers > 0, "only enqueue, enqueue-many, latency and multiproc have producers"},
		{"rate", sc.rated, "only latency enqueues at a rate"},
		{"duration", sc.rated || sc.timed, "only latency and multiproc run for a duration"},
		{"drained", sc.name == "backlog", "only backlog drains ahead of a backlog"},
		{"procs", multi, "only multiproc runs several processes"},
		{"lease", multi, "only multiproc sets the lease"},
		{"busy-timeout", multi, "only multiproc sets the busy timeout"},
		{"mp-child", multi, "only multiproc runs child processes"},
		{"mp-dir", multi, "only multiproc runs child processes"},
	} {
		if set[c.flag] && !c.applies {
			return cfg, usageErrorf("-%s does not apply to -scenario %s (%s)", c.flag, sc.name, c.why)
		}
	}
	for _, c := range []struct {
		flag string
		v    int
	}{{"jobs", cfg.jobs}, {"workers", cfg.workers}, {"producers", cfg.producers}, {"rate", cfg.rate}, {"drained", cfg.drained}, {"procs", cfg.procs}} {
		if set[c.flag] && c.v <= 0 {
			return cfg, usageErrorf("-%s %d: must be at least 1", c.flag, c.v)
		}
	}
	if !set["jobs"] {
		cfg.jobs = sc.jobs
	}
	if !set["workers"] {
		cfg.workers = benchDefaultWorkers
		if multi {
			cfg.workers = multiprocDefaultWorkers
		}
	}
	if !set["producers"] {
		cfg.producers = sc.producers
	}
	if multi {
		if err := checkMultiproc(&cfg); err != nil {
			return cfg, err
		}
		cfg.rate = 0
		return cfg, nil
	}
	if !sc.rated {
		cfg.rate, cfg.duration = 0, 0
	} else {
		if cfg.duration <= 0 {
			return cfg, usageErrorf("-duration %s: must be positive", cfg.duration)
		}
		n := float64(cfg.rate) * cfg.duration.Seconds()
		if n < 1 {
			return cfg, usageErrorf("-rate %d for -duration %s is less than one job", cfg.rate, cfg.duration)
		}
		if n > benchMaxJobs {
			return cfg, usageErrorf("-rate %d for -duration %s is more than %d jobs", cfg.rate, cfg.duration, benchMaxJobs)
		}
		cfg.jobs = int(n)
	}
	if cfg.jobs > benchMaxJobs {
		return cfg, usageErrorf("-jobs %d: at most %d", cfg.jobs, benchMaxJobs)
	}
	if sc.name == "enqueue" && cfg.producers > cfg.jobs {
		return cfg, usageErrorf("-producers %d is more than -jobs %d", cfg.producers, cfg.jobs)
	}
	if cfg.dbPath != "" {
		if _, err := os.Stat(cfg.dbPath); err == nil {
			return cfg, usageErrorf("-db %s already exists; give the path of a new file (bench accounts for every job in it)", cfg.dbPath)
		} else if !errors.Is(err, os.ErrNotExist) {
			return cfg, usageErrorf("-db %s: %v", cfg.dbPath, err)
		}
	}
	cfg.stall = time.Minute
	return cfg, nil
}

// bench is one run of a scenario.
type bench struct {
	cfg    benchConfig
	stderr io.Writer
	res    *benchResult

	store *sqlite.Store
	ts    *timedStore
	q     *queue.Queue
	pool  *worker.Pool
	tr    *tracker

	profiling bool
}

func runBenchConfig(ctx context.Context, cfg benchConfig, stderr io.Writer) (res *benchResult, err error) {
	b := &bench{cfg: cfg, stderr: stderr, res: &benchResult{
		Scenario: cfg.scenario.name, Jobs: cfg.jobs, Workers: cfg.workers,
		Producers: cfg.producers, Rate: cfg.rate,
	}}
	path := cfg.dbPath
	if path == "" {
		dir, err := os.MkdirTemp("", "spool-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "bench.db")
	}
	b.store, err = sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return nil, err
	}
	defer func() {
		if b.pool != nil {
			if perr := b.stopPool(); err == nil {
				err = perr
			}
		}
		if cerr := b.store.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close the store: %w", cerr)
		}
		if err != nil {
			res = nil
		}
	}()
	b.ts = &timedStore{Store: b.store}
	if b.q, err = queue.New(b.ts, queue.Options{}); err != nil {
		return nil, err
	}
	b.logf("%s: database %s", cfg.scenario.name, path)
	if err := cfg.scenario.run(b, ctx); err != nil {
		b.stopProfile()
		return nil, err
	}
	if err := b.stopPool(); err != nil {
		return nil, err
	}
	b.res.Seconds = round(b.res.Seconds, 4)
	b.res.JobsPerSec = round(b.res.JobsPerSec, 0)
	if rss, ok := peakRSS(); ok {
		b.res.PeakRSSMB = &rss
	}
	return b.res, nil
}

func (b *bench) logf(format string, a ...any) {
	fmt.Fprintf(b.stderr, format+"\n", a...)
}

// startTimed starts the CPU profile of the timed phase, if asked for.
func (b *bench) startTimed() error {
	if b.cfg.cpuProfile == "" {
		return nil
	}
	f, err := os.Create(b.cfg.cpuProfile)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	b.profiling = true
	return nil
}

func (b *bench) stopProfile() {
	if b.profiling {
		pprof.StopCPUProfile()
		b.profiling = false
	}
}

func (b *bench) startPool(ctx context.Context) error {
	opts := worker.Options{}
	if b.cfg.workers != benchDefaultWorkers {
		opts.Queues = map[string]worker.QueueConfig{queue.DefaultQueue: {MaxWorkers: b.cfg.workers}}
	}
	p, err := worker.New(b.q, opts)
	if err != nil {
		return err
	}
	p.HandleFunc(benchKind, b.handle)
	if err := p.Start(ctx); err != nil {
		return err
	}
	b.pool = p
	return nil
}

func (b *bench) stopPool() error {
	if b.pool == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := b.pool.Stop(ctx)
	b.pool = nil
	if err != nil {
		return fmt.Errorf("stop the pool: %w", err)
	}
	return nil
}

// handle is the no-op handler: it only records that the job ran.
func (b *bench) handle(_ context.Context, j *queue.Job) error {
	seq, ok := payloadSeq(j.Payload)
	if !ok || seq >= len(b.tr.counts) {
		return queue.Permanent(fmt.Errorf("bench: job %d has a payload that is not the bench's: %.40q", j.ID, j.Payload))
	}
	b.tr.handle(seq)
	return nil
}

// The payload is about as large as a small real one (rawlimit's is 89
// bytes); seq identifies the job for the delivery check.
const (
	payloadPrefix = `{"seq":`
	payloadRest   = `,"order_id":"10245","customer":"c-4711","items":3,"total_cents":6997,"note":"bench"}`
)

func benchPayload(seq int) []byte {
	b := make([]byte, 0, len(payloadPrefix)+len(payloadRest)+10)
	b = append(b, payloadPrefix...)
	b = strconv.AppendInt(b, int64(seq), 10)
	return append(b, payloadRest...)
}

func payloadSeq(p []byte) (int, bool) {
	if !bytes.HasPrefix(p, []byte(payloadPrefix)) {
		return 0, false
	}
	n, digits := 0, 0
	for _, c := range p[len(payloadPrefix):] {
		if c < '0' || c > '9' || digits > 10 {
			break
		}
		n = n*10 + int(c-'0')
		digits++
	}
	return n, digits > 0
}

// tracker counts, per job, how often its handler ran.
type tracker struct {
	base    time.Time
	counts  []atomic.Uint32
	starts  []atomic.Int64 // handler start, ns after base (latency only)
	limit   int            // jobs with seq < limit are the ones awaited
	unique  atomic.Int64   // jobs with seq < limit handled at least once
	handled atomic.Int64   // handler runs, all jobs
	dups    atomic.Int64   // jobs handled more than once
	doneAt  atomic.Int64   // ns after base when the limit-th job was handled
	done    chan struct{}
}

// newTracker tracks n jobs, seq 0..n-1, and awaits the first limit of them.
func newTracker(n, limit int, starts bool) *tracker {
	t := &tracker{base: time.Now(), counts: make([]atomic.Uint32, n), limit: limit, done: make(chan struct{})}
	if starts {
		t.starts = make([]atomic.Int64, n)
	}
	return t
}

func (t *tracker) handle(seq int) {
	now := int64(time.Since(t.base))
	if t.starts != nil {
		t.starts[seq].CompareAndSwap(0, now)
	}
	t.handled.Add(1)
	switch t.counts[seq].Add(1) {
	case 1:
		if seq < t.limit && t.unique.Add(1) == int64(t.limit) {
			t.doneAt.Store(now)
			close(t.done)
		}
	case 2:
		t.dups.Add(1)
	}
}

func (t *tracker) lost() int { return t.limit - int(t.unique.Load()) }

// await waits until the tracker's awaited jobs were all handled, or none was
// handled for cfg.stall, and returns the moment the last of them was
// handled (the last progress after a stall). It reports progress every
// second.
func (b *bench) await(ctx context.Context, phase string, start time.Time) (time.Time, error) {
	t := b.tr
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last, lastAt := t.unique.Load(), time.Now()
	reported, reportedAt := last, time.Now()
	for {
		select {
		case <-t.done:
			return t.base.Add(time.Duration(t.doneAt.Load())), nil
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case now := <-tick.C:
			n := t.unique.Load()
			if n != last {
				last, lastAt = n, now
			} else if now.Sub(lastAt) > b.cfg.stall {
				b.logf("%s: no job handled for %s; giving up with %d of %d handled", phase, b.cfg.stall, n, t.limit)
				return lastAt, nil
			}
			if now.Sub(reportedAt) >= time.Second {
				b.logf("%s: %d of %d handled, %.0f/s (%.1fs)", phase, n, t.limit,
					float64(n-reported)/now.Sub(reportedAt).Seconds(), now.Sub(start).Seconds())
				reported, reportedAt = n, now
			}
		}
	}
}

// fill enqueues jobs seq from..to-1 untimed, 1000 per EnqueueMany call.
func (b *bench) fill(ctx context.Context, from, to int, job func(seq int) queue.NewJob) error {
	const size = 1000
	start := time.Now()
	b.logf("%s: enqueueing %d jobs (untimed)", b.cfg.scenario.name, to-from)
	next := start.Add(time.Second)
	batch := make([]queue.NewJob, 0, size)
	for seq := from; seq < to; seq++ {
		batch = append(batch, job(seq))
		if len(batch) < size && seq < to-1 {
			continue
		}
		if _, err := b.q.EnqueueMany(ctx, batch); err != nil {
			return fmt.Errorf("enqueue jobs %d..%d: %w", seq+1-len(batch), seq, err)
		}
		batch = batch[:0]
		if now := time.Now(); now.After(next) {
			b.logf("%s: %d of %d enqueued (%.1fs)", b.cfg.scenario.name, seq+1-from, to-from, now.Sub(start).Seconds())
			next = now.Add(time.Second)
		}
	}
	return nil
}

func plainJob(seq int) queue.NewJob {
	return queue.NewJob{Kind: benchKind, Payload: benchPayload(seq)}
}

// drainTimed starts the pool and times it until the tracker's awaited jobs
// were handled.
func (b *bench) drainTimed(ctx context.Context) error {
	// Start from a checkpointed WAL, so that the timed phase does not
	// also copy the untimed enqueue into the database file.
	if err := b.store.Checkpoint(ctx); err != nil {
		return fmt.Errorf("checkpoint after enqueueing: %w", err)
	}
	if err := b.startTimed(); err != nil {
		return err
	}
	start := time.Now()
	if err := b.startPool(ctx); err != nil {
		return err
	}
	end, err := b.await(ctx, b.cfg.scenario.name, start)
	b.stopProfile()
	if err != nil {
		return err
	}
	b.setRate(b.tr.limit-b.tr.lost(), end.Sub(start))
	b.res.Lost, b.res.Duplicates = b.tr.lost(), int(b.tr.dups.Load())
	return nil
}

func (b *bench) setRate(jobs int, d time.Duration) {
	b.res.Seconds = d.Seconds()
	if d > 0 {
		b.res.JobsPerSec = float64(jobs) / d.Seconds()
	}
}

func (b *bench) drain(ctx context.Context) error {
	n := b.cfg.jobs
	b.tr = newTracker(n, n, false)
	if err := b.fill(ctx, 0, n, plainJob); err != nil {
		return err
	}
	return b.drainTimed(ctx)
}

// mixed is drain with four priorities and a fifth of the jobs due within a
// second before or after their enqueue, interleaved by id.
func (b *bench) mixed(ctx context.Context) error {
	n := b.cfg.jobs
	b.tr = newTracker(n, n, false)
	err := b.fill(ctx, 0, n, func(seq int) queue.NewJob {
		j := plainJob(seq)
		j.Priority = rand.IntN(4)
		if seq%5 == 0 {
			j.RunAt = time.Now().Add(time.Duration(rand.Int64N(int64(2*time.Second))) - time.Second)
		}
		return j
	})
	if err != nil {
		return err
	}
	return b.drainTimed(ctx)
}

// backlog enqueues cfg.drained jobs and behind them -jobs more, then times
// the drain of the first cfg.drained: -jobs jobs wait throughout. The
// latency fields are the Lease calls of that drain.
func (b *bench) backlog(ctx context.Context) error {
	k := b.cfg.drained
	n := k + b.cfg.jobs
	b.tr = newTracker(n, k, false)
	if err := b.fill(ctx, 0, n, plainJob); err != nil {
		return err
	}
	b.logf("backlog: draining the first %d jobs, %d waiting behind them", k, b.cfg.jobs)
	b.ts.record.Store(true)
	err := b.drainTimed(ctx)
	b.ts.record.Store(false)
	if err != nil {
		return err
	}
	b.ts.mu.Lock()
	b.setLatencies(b.ts.leases)
	b.ts.mu.Unlock()
	return nil
}

// enqueue: P producers call Enqueue N/P times each.
func (b *bench) enqueue(ctx context.Context) error {
	b.res.Workers = 0
	per := b.cfg.jobs / b.cfg.producers
	n := per * b.cfg.producers
	b.res.Jobs = n
	b.tr = newTracker(n, n, false)
	payloads := make([][]byte, n)
	for i := range payloads {
		payloads[i] = benchPayload(i)
	}
	var done atomic.Int64
	err := b.timedProducers(ctx, n, &done, func(p int) error {
		for seq := p * per; seq < (p+1)*per; seq++ {
			if _, err := b.q.Enqueue(ctx, queue.NewJob{Kind: benchKind, Payload: payloads[seq]}); err != nil {
				return fmt.Errorf("enqueue job %d: %w", seq, err)
			}
			done.Add(1)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return b.verify(ctx)
}

// enqueueMany: P producers take batches of 1000 in turn.
func (b *bench) enqueueMany(ctx context.Context) error {
	const size = 1000
	b.res.Workers = 0
	n := b.cfg.jobs
	b.tr = newTracker(n, n, false)
	var batches [][]queue.NewJob
	for from := 0; from < n; from += size {
		batch := make([]queue.NewJob, 0, min(size, n-from))
		for seq := from; seq < from+cap(batch); seq++ {
			batch = append(batch, plainJob(seq))
		}
		batches = append(batches, batch)
	}
	var next, done atomic.Int64
	err := b.timedProducers(ctx, n, &done, func(int) error {
		for {
			i := int(next.Add(1) - 1)
			if i >= len(batches) {
				return nil
			}
			if _, err := b.q.EnqueueMany(ctx, batches[i]); err != nil {
				return fmt.Errorf("enqueue batch %d: %w", i, err)
			}
			done.Add(int64(len(batches[i])))
		}
	})
	if err != nil {
		return err
	}
	return b.verify(ctx)
}

// timedProducers runs fn in cfg.producers goroutines and times them,
// reporting done of n every second.
func (b *bench) timedProducers(ctx context.Context, n int, done *atomic.Int64, fn func(p int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := b.startTimed(); err != nil {
		return err
	}
	start := time.Now()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for p := range b.cfg.producers {
		wg.Go(func() {
			if err := fn(p); err != nil {
				errOnce.Do(func() { firstErr = err; cancel() })
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
wait:
	for {
		select {
		case <-finished:
			break wait
		case now := <-tick.C:
			b.logf("%s: %d of %d enqueued (%.1fs)", b.cfg.scenario.name, done.Load(), n, now.Sub(start).Seconds())
		}
	}
	d := time.Since(start)
	b.stopProfile()
	if firstErr != nil {
		return firstErr
	}
	b.setRate(n, d)
	return nil
}

// verify drains every enqueued job (untimed) to check delivery.
func (b *bench) verify(ctx context.Context) error {
	b.logf("%s: draining to check delivery (untimed)", b.cfg.scenario.name)
	start := time.Now()
	if err := b.startPool(ctx); err != nil {
		return err
	}
	if _, err := b.await(ctx, b.cfg.scenario.name+" check", start); err != nil {
		return err
	}
	b.res.Lost, b.res.Duplicates = b.tr.lost(), int(b.tr.dups.Load())
	return nil
}

// latency: workers running, producers enqueue at a fixed total rate (open
// loop: job seq is due at start + seq/rate whatever happened before).
func (b *bench) latency(ctx context.Context) error {
	n, P := b.cfg.jobs, b.cfg.producers
	b.tr = newTracker(n, n, true)
	if err := b.startPool(ctx); err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond) // let the pool's fetch loops subscribe to wake-ups
	payloads := make([][]byte, n)
	for i := range payloads {
		payloads[i] = benchPayload(i)
	}
	sent := make([]int64, n) // ns after tr.base, just before Enqueue
	interval := float64(time.Second) / float64(b.cfg.rate)
	var done atomic.Int64
	b.logf("latency: %d jobs at %d/s from %d producers for %s", n, b.cfg.rate, P, b.cfg.duration)
	start := time.Now()
	err := b.timedProducers(ctx, n, &done, func(p int) error {
		for seq := p; seq < n; seq += P {
			if d := time.Until(start.Add(time.Duration(float64(seq) * interval))); d > 0 {
				time.Sleep(d)
			}
			sent[seq] = int64(time.Since(b.tr.base))
			if _, err := b.q.Enqueue(ctx, queue.NewJob{Kind: benchKind, Payload: payloads[seq]}); err != nil {
				return fmt.Errorf("enqueue job %d: %w", seq, err)
			}
			done.Add(1)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := b.await(ctx, "latency: last jobs", start); err != nil {
		return err
	}
	if err := b.stopPool(); err != nil {
		return err
	}
	lat := make([]time.Duration, 0, n)
	for seq := range n {
		if s := b.tr.starts[seq].Load(); s != 0 {
			lat = append(lat, time.Duration(s-sent[seq]))
		}
	}
	b.setLatencies(lat)
	b.res.Lost, b.res.Duplicates = b.tr.lost(), int(b.tr.dups.Load())
	return nil
}

func (b *bench) setLatencies(d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	ms := func(d time.Duration) *float64 {
		v := round(float64(d)/float64(time.Millisecond), 3)
		return &v
	}
	b.res.P50ms = ms(percentile(d, 50))
	b.res.P99ms = ms(percentile(d, 99))
	b.res.MaxMs = ms(d[len(d)-1])
}

// percentile returns the nearest-rank p-th percentile of sorted d.
func percentile(d []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

func round(v float64, places int) float64 {
	f := math.Pow(10, float64(places))
	return math.Round(v*f) / f
}

// timedStore times the Lease calls the pool makes while record is set.
type timedStore struct {
	queue.Store
	record atomic.Bool
	mu     sync.Mutex
	leases []time.Duration
}

func (s *timedStore) Lease(ctx context.Context, p queue.LeaseParams) (queue.LeaseResult, error) {
	if !s.record.Load() {
		return s.Store.Lease(ctx, p)
	}
	start := time.Now()
	res, err := s.Store.Lease(ctx, p)
	d := time.Since(start)
	s.mu.Lock()
	s.leases = append(s.leases, d)
	s.mu.Unlock()
	return res, err
}

// peakRSS returns the process's peak resident set size in MB (VmHWM).
func peakRSS() (float64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			return 0, false
		}
		return round(kb/1024, 1), true
	}
	return 0, false
}

func printBench(w io.Writer, r *benchResult) {
	opt := func(v *float64, unit string) string {
		if v == nil {
			return "-"
		}
		return strconv.FormatFloat(*v, 'f', -1, 64) + unit
	}
	num := func(v int) string {
		if v == 0 {
			return "-"
		}
		return strconv.Itoa(v)
	}
	latency := "latency"
	if r.Scenario == "backlog" {
		latency = "lease latency"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\t%s\n", r.Scenario)
	fmt.Fprintf(tw, "jobs\t%d\n", r.Jobs)
	fmt.Fprintf(tw, "workers\t%s\n", num(r.Workers))
	fmt.Fprintf(tw, "producers\t%s\n", num(r.Producers))
	fmt.Fprintf(tw, "rate\t%s\n", num(r.Rate))
	fmt.Fprintf(tw, "seconds\t%.3f\n", r.Seconds)
	fmt.Fprintf(tw, "jobs/s\t%.0f\n", r.JobsPerSec)
	fmt.Fprintf(tw, "%s p50\t%s\n", latency, opt(r.P50ms, " ms"))
	fmt.Fprintf(tw, "%s p99\t%s\n", latency, opt(r.P99ms, " ms"))
	fmt.Fprintf(tw, "%s max\t%s\n", latency, opt(r.MaxMs, " ms"))
	fmt.Fprintf(tw, "peak RSS\t%s\n", opt(r.PeakRSSMB, " MB"))
	fmt.Fprintf(tw, "lost\t%d\n", r.Lost)
	fmt.Fprintf(tw, "duplicates\t%d\n", r.Duplicates)
	tw.Flush()
}
