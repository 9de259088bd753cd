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
