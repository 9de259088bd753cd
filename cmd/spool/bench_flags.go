package main

// Parsing and checking the bench command's flags.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// benchHidden are the flags the usage text leaves out: for measuring the
// bench itself, and the multiproc parent's flags for its children.
var benchHidden = map[string]bool{"cpuprofile": true, "drained": true, "mp-child": true, "mp-dir": true}

// parseBench parses and checks the bench flags, and completes the
// configuration with the scenario's defaults.
func parseBench(args []string, stderr io.Writer) (benchConfig, error) {
	var (
		cfg      benchConfig
		scenario string
	)
	fs := benchFlags(&cfg, &scenario)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			benchUsage(fs, stderr)
			return cfg, err
		}
		return cfg, &usageError{err: err}
	}
	if fs.NArg() > 0 {
		return cfg, usageErrorf("unexpected argument %q (bench takes only flags)", fs.Arg(0))
	}
	sc, err := findScenario(scenario)
	if err != nil {
		return cfg, err
	}
	cfg.scenario = sc
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := checkApplies(sc, set); err != nil {
		return cfg, err
	}
	if err := checkPositive(cfg, set); err != nil {
		return cfg, err
	}
	applyScenarioDefaults(&cfg, set)
	if sc.name == "multiproc" {
		if err := checkMultiproc(&cfg); err != nil {
			return cfg, err
		}
		cfg.rate = 0
		return cfg, nil
	}
	if err := checkSingleProc(&cfg); err != nil {
		return cfg, err
	}
	cfg.stall = time.Minute
	return cfg, nil
}

// benchFlags defines the bench flags on a new flag set, into cfg and
// scenario.
func benchFlags(cfg *benchConfig, scenario *string) *flag.FlagSet {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(scenario, "scenario", "drain", "`name`: drain, enqueue, enqueue-many, latency, mixed, backlog or multiproc")
	fs.IntVar(&cfg.jobs, "jobs", 0, "jobs to run, `N` (default: the scenario's; see above)")
	fs.IntVar(&cfg.workers, "workers", 0, "concurrent handlers `W` of the pool (default 100, the pool's default; multiproc 16 per process)")
	fs.IntVar(&cfg.producers, "producers", 0, "enqueueing goroutines `P` (enqueue 16, enqueue-many 1, latency 4, multiproc 8 per process)")
	fs.IntVar(&cfg.rate, "rate", 1000, "total enqueue rate `R` in jobs/s (latency)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long `D` producers enqueue (latency, multiproc)")
	fs.StringVar(&cfg.dbPath, "db", "", "database `path`, which must not exist (default: a new file in a temporary directory, removed afterwards), or a postgres:// URL: the run uses a fresh schema on that server and drops it afterwards")
	fs.BoolVar(&cfg.json, "json", false, "print one JSON object on stdout instead of a table")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the timed phase to `file`")
	fs.BoolVar(&cfg.apart, "apart", false, "latency: producers enqueue through a store of their own, as another host's app would (on PostgreSQL their wake-ups reach the workers through NOTIFY)")
	fs.IntVar(&cfg.maxRunning, "max-running", 0, "the queue's limit `N` on running jobs across processes (QueueSettings.MaxRunning; default 0: none; not multiproc)")
	fs.IntVar(&cfg.keys, "keys", 0, "drain: spread the jobs over `N` ordering keys (default 0: no keys)")
	fs.IntVar(&cfg.partitionKeys, "partition-keys", 0, "drain: spread the jobs round-robin over `N` partition keys (NewJob.PartitionKey; default 0: none)")
	fs.IntVar(&cfg.maxRunningPerKey, "max-running-per-key", 0, "the queue's limit `N` on running jobs of one partition key (QueueSettings.MaxRunningPerKey; default 0: none; not multiproc)")
	fs.IntVar(&cfg.drained, "drained", benchDrained, "backlog: jobs drained (timed) ahead of the -jobs waiting")
	fs.IntVar(&cfg.procs, "procs", 2, "processes `N` sharing the database file (multiproc)")
	fs.IntVar(&cfg.backlog, "backlog", 0, "multiproc: `N` jobs enqueued before the processes start; without -producers the run is a drain across the processes, timed until the last job ran")
	fs.DurationVar(&cfg.lease, "lease", 0, "each pool's lease duration `D` (multiproc; default 0: the pool's default, 30s)")
	fs.DurationVar(&cfg.busyTimeout, "busy-timeout", 0, "each store's busy timeout `D` (multiproc; default 0: the store's default, 5s)")
	fs.IntVar(&cfg.child, "mp-child", 0, "multiproc: run as child process `N` of the parent")
	fs.StringVar(&cfg.childDir, "mp-dir", "", "multiproc: the `dir` a child writes its job ids to")
	return fs
}

// benchUsage prints the about text and the flags that are not hidden.
func benchUsage(fs *flag.FlagSet, stderr io.Writer) {
	fmt.Fprint(stderr, benchAbout)
	fs.VisitAll(func(f *flag.Flag) {
		if benchHidden[f.Name] {
			return
		}
		name, text := flag.UnquoteUsage(f)
		fmt.Fprintf(stderr, "  -%s %s\n    \t%s\n", f.Name, name, text)
	})
}

// findScenario returns the scenario called name.
func findScenario(name string) (benchScenario, error) {
	var names []string
	for _, s := range benchScenarios() {
		if s.name == name {
			return s, nil
		}
		names = append(names, s.name)
	}
	return benchScenario{}, usageErrorf("unknown scenario %q (want one of %s)", name, strings.Join(names, ", "))
}

// checkApplies refuses the flags set that do not apply to the scenario.
func checkApplies(sc benchScenario, set map[string]bool) error {
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
		{"keys", sc.name == "drain", "only drain spreads its jobs over ordering keys"},
		{"apart", sc.name == "latency", "only latency has producers apart from its workers"},
		{"procs", multi, "only multiproc runs several processes"},
		{"backlog", multi, "only multiproc enqueues a backlog before it starts its processes (drain, mixed and backlog take -jobs)"},
		{"max-running", !multi, "multiproc does not set queue limits"},
		{"max-running-per-key", !multi, "multiproc does not set queue limits"},
		{"partition-keys", sc.name == "drain", "only drain spreads its jobs over partition keys"},
		{"lease", multi, "only multiproc sets the lease"},
		{"busy-timeout", multi, "only multiproc sets the busy timeout"},
		{"mp-child", multi, "only multiproc runs child processes"},
		{"mp-dir", multi, "only multiproc runs child processes"},
	} {
		if set[c.flag] && !c.applies {
			return usageErrorf("-%s does not apply to -scenario %s (%s)", c.flag, sc.name, c.why)
		}
	}
	return nil
}

// checkPositive refuses counts set to less than 1.
func checkPositive(cfg benchConfig, set map[string]bool) error {
	for _, c := range []struct {
		flag string
		v    int
	}{{"jobs", cfg.jobs}, {"workers", cfg.workers}, {"producers", cfg.producers}, {"rate", cfg.rate}, {"drained", cfg.drained}, {"procs", cfg.procs}, {"backlog", cfg.backlog}, {"max-running", cfg.maxRunning}, {"keys", cfg.keys},
		{"max-running-per-key", cfg.maxRunningPerKey}, {"partition-keys", cfg.partitionKeys}} {
		if c.flag == "producers" && c.v == 0 && cfg.backlog > 0 {
			continue // a drain of the backlog across processes
		}
		if set[c.flag] && c.v <= 0 {
			return usageErrorf("-%s %d: must be at least 1", c.flag, c.v)
		}
	}
	return nil
}

// applyScenarioDefaults gives -jobs, -workers and -producers the
// scenario's defaults where they were not set.
func applyScenarioDefaults(cfg *benchConfig, set map[string]bool) {
	sc := cfg.scenario
	if !set["jobs"] {
		cfg.jobs = sc.jobs
	}
	if !set["workers"] {
		cfg.workers = benchDefaultWorkers
		if sc.name == "multiproc" {
			cfg.workers = multiprocDefaultWorkers
		}
	}
	if !set["producers"] {
		cfg.producers = sc.producers
		if set["backlog"] {
			// A backlog without producers is a drain across processes.
			cfg.producers = 0
		}
	}
}

// checkSingleProc checks and completes the flags of the scenarios that run
// in this process: the jobs of a rated run, the bounds on -jobs and
// -producers, and that -db is a new file.
func checkSingleProc(cfg *benchConfig) error {
	if !cfg.scenario.rated {
		cfg.rate, cfg.duration = 0, 0
	} else {
		if cfg.duration <= 0 {
			return usageErrorf("-duration %s: must be positive", cfg.duration)
		}
		n := float64(cfg.rate) * cfg.duration.Seconds()
		if n < 1 {
			return usageErrorf("-rate %d for -duration %s is less than one job", cfg.rate, cfg.duration)
		}
		if n > benchMaxJobs {
			return usageErrorf("-rate %d for -duration %s is more than %d jobs", cfg.rate, cfg.duration, benchMaxJobs)
		}
		cfg.jobs = int(n)
	}
	if cfg.jobs > benchMaxJobs {
		return usageErrorf("-jobs %d: at most %d", cfg.jobs, benchMaxJobs)
	}
	if cfg.scenario.name == "enqueue" && cfg.producers > cfg.jobs {
		return usageErrorf("-producers %d is more than -jobs %d", cfg.producers, cfg.jobs)
	}
	return checkNewDB(cfg.dbPath)
}

// checkNewDB accepts "", the path of a file that does not exist yet, or
// the URL of a PostgreSQL server without a spool_schema.
func checkNewDB(path string) error {
	if path == "" {
		return nil
	}
	if isPostgresURL(path) {
		_, err := newPostgresBenchDB(path)
		return err
	}
	if _, err := os.Stat(path); err == nil {
		return usageErrorf("-db %s already exists; give the path of a new file (bench accounts for every job in it)", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return usageErrorf("-db %s: %v", path, err)
	}
	return nil
}
