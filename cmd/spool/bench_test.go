package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// benchJSON runs spool bench with args and -json and returns the one JSON
// object it printed.
func benchJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := runBench(context.Background(), append(args, "-json"), &stdout, &stderr); err != nil {
		t.Fatalf("bench %v: %v\nstderr:\n%s", args, err, stderr.String())
	}
	dec := json.NewDecoder(&stdout)
	var got map[string]any
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("bench %v: stdout is not a JSON object: %v\n%s", args, err, stdout.String())
	}
	if rest, _ := io.ReadAll(dec.Buffered()); strings.TrimSpace(string(rest)) != "" || stdout.Len() > 0 {
		t.Fatalf("bench %v: more than one JSON object on stdout: %q", args, string(rest)+stdout.String())
	}
	return got
}

var benchFields = []string{"scenario", "jobs", "workers", "producers", "rate", "seconds", "jobs_per_sec",
	"p50_ms", "p99_ms", "max_ms", "peak_rss_mb", "lost", "duplicates"}

func TestBenchScenarios(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		jobs     float64
		latency  bool
		producer bool
	}{
		{"drain", []string{"-scenario", "drain", "-jobs", "2000"}, 2000, false, false},
		{"drain workers", []string{"-scenario", "drain", "-jobs", "1000", "-workers", "7"}, 1000, false, false},
		{"enqueue", []string{"-scenario", "enqueue", "-jobs", "2003", "-producers", "8"}, 2000, false, true},
		{"enqueue-many", []string{"-scenario", "enqueue-many", "-jobs", "2500", "-producers", "2"}, 2500, false, true},
		{"latency", []string{"-scenario", "latency", "-rate", "200", "-duration", "1s"}, 200, true, true},
		{"mixed", []string{"-scenario", "mixed", "-jobs", "2000"}, 2000, false, false},
		{"backlog", []string{"-scenario", "backlog", "-jobs", "2000", "-drained", "1000"}, 2000, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := benchJSON(t, tc.args...)
			for _, f := range benchFields {
				if _, ok := got[f]; !ok {
					t.Errorf("field %q missing from %v", f, got)
				}
			}
			if len(got) != len(benchFields) {
				t.Errorf("got %d fields, want %d: %v", len(got), len(benchFields), got)
			}
			if got["scenario"] != tc.args[1] {
				t.Errorf("scenario = %v, want %s", got["scenario"], tc.args[1])
			}
			if got["jobs"] != tc.jobs {
				t.Errorf("jobs = %v, want %v", got["jobs"], tc.jobs)
			}
			if got["lost"] != 0.0 || got["duplicates"] != 0.0 {
				t.Errorf("lost = %v, duplicates = %v; want 0 and 0", got["lost"], got["duplicates"])
			}
			if v, _ := got["jobs_per_sec"].(float64); v <= 0 {
				t.Errorf("jobs_per_sec = %v, want > 0", got["jobs_per_sec"])
			}
			if v, _ := got["seconds"].(float64); v <= 0 {
				t.Errorf("seconds = %v, want > 0", got["seconds"])
			}
			if v, ok := got["peak_rss_mb"].(float64); !ok || v <= 0 {
				t.Errorf("peak_rss_mb = %v, want > 0", got["peak_rss_mb"])
			}
			if v, _ := got["producers"].(float64); (v > 0) != tc.producer {
				t.Errorf("producers = %v; want it set: %v", got["producers"], tc.producer)
			}
			for _, f := range []string{"p50_ms", "p99_ms", "max_ms"} {
				v, isNum := got[f].(float64)
				switch {
				case tc.latency && (!isNum || v <= 0):
					t.Errorf("%s = %v, want a positive number", f, got[f])
				case !tc.latency && got[f] != nil:
					t.Errorf("%s = %v, want null", f, got[f])
				}
			}
			if tc.latency {
				p50, p99, mx := got["p50_ms"].(float64), got["p99_ms"].(float64), got["max_ms"].(float64)
				if p50 > p99 || p99 > mx {
					t.Errorf("p50 %v, p99 %v, max %v are out of order", p50, p99, mx)
				}
			}
		})
	}
}

func TestBenchTable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := runBench(context.Background(), []string{"-jobs", "500"}, &stdout, &stderr); err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"scenario", "drain", "jobs/s", "peak RSS", "lost", "duplicates"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "enqueueing 500 jobs") {
		t.Errorf("no progress on stderr:\n%s", stderr.String())
	}
}

func TestBenchDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kept.db")
	benchJSON(t, "-jobs", "100", "-db", path)
	// The file is kept, and a second run refuses to reuse it.
	var stdout, stderr bytes.Buffer
	err := runBench(context.Background(), []string{"-jobs", "100", "-db", path}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second run on %s: err = %v, want an 'already exists' error", path, err)
	}
}

// drain -keys spreads its jobs over ordering keys, runs each once and
// reports the keys.
func TestBenchDrainKeys(t *testing.T) {
	got := benchJSON(t, "-scenario", "drain", "-jobs", "2000", "-keys", "10")
	if got["keys"] != float64(10) || got["jobs"] != float64(2000) || got["lost"] != float64(0) || got["duplicates"] != float64(0) {
		t.Errorf("keys, jobs, lost, duplicates = %v, %v, %v, %v; want 10, 2000, 0, 0", got["keys"], got["jobs"], got["lost"], got["duplicates"])
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-scenario", "nope"}, `unknown scenario "nope" (want one of drain, enqueue, enqueue-many, latency, mixed, backlog, multiproc)`},
		{[]string{"-jobs", "0"}, "-jobs 0: must be at least 1"},
		{[]string{"-jobs", "-5"}, "-jobs -5: must be at least 1"},
		{[]string{"-workers", "0"}, "-workers 0: must be at least 1"},
		{[]string{"-scenario", "latency", "-rate", "0"}, "-rate 0: must be at least 1"},
		{[]string{"-scenario", "latency", "-duration", "-1s"}, "-duration -1s: must be positive"},
		{[]string{"-scenario", "latency", "-jobs", "10"}, "-jobs does not apply to -scenario latency"},
		{[]string{"-rate", "10"}, "-rate does not apply to -scenario drain"},
		{[]string{"-scenario", "mixed", "-producers", "2"}, "-producers does not apply to -scenario mixed"},
		{[]string{"-scenario", "enqueue", "-jobs", "3", "-producers", "4"}, "-producers 4 is more than -jobs 3"},
		{[]string{"-jobs", "ten"}, `invalid value "ten" for flag -jobs`},
		{[]string{"-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-procs", "2"}, "-procs does not apply to -scenario drain"},
		{[]string{"-apart"}, "-apart does not apply to -scenario drain"},
		{[]string{"-keys", "0"}, "-keys 0: must be at least 1"},
		{[]string{"-scenario", "mixed", "-keys", "5"}, "-keys does not apply to -scenario mixed"},
		{[]string{"-scenario", "latency", "-lease", "2s"}, "-lease does not apply to -scenario latency"},
		{[]string{"-scenario", "enqueue", "-busy-timeout", "1s"}, "-busy-timeout does not apply to -scenario enqueue"},
		{[]string{"-scenario", "multiproc", "-jobs", "10"}, "-jobs does not apply to -scenario multiproc (multiproc enqueues for -duration)"},
		{[]string{"-scenario", "multiproc", "-rate", "10"}, "-rate does not apply to -scenario multiproc"},
		{[]string{"-scenario", "multiproc", "-procs", "0"}, "-procs 0: must be at least 1"},
		{[]string{"-scenario", "multiproc", "-backlog", "0"}, "-backlog 0: must be at least 1"},
		{[]string{"-backlog", "10"}, "-backlog does not apply to -scenario drain"},
		{[]string{"-scenario", "multiproc", "-producers", "0"}, "-producers 0: must be at least 1"},
		{[]string{"-scenario", "multiproc", "-procs", "65"}, "-procs 65: at most 64"},
		{[]string{"-scenario", "multiproc", "-duration", "0s"}, "-duration 0s: must be positive"},
		{[]string{"-scenario", "multiproc", "-lease", "500ms"}, "-lease 500ms: must be 0 (the pool's default, 30s) or at least 1s"},
		{[]string{"-scenario", "multiproc", "-busy-timeout", "-1s"}, "-busy-timeout -1s: must not be negative"},
		{[]string{"-scenario", "multiproc", "-mp-dir", "/tmp"}, "-mp-dir applies only with -mp-child"},
		{[]string{"-scenario", "multiproc", "-mp-child", "1"}, "-mp-child needs -mp-dir and -db"},
	} {
		var stdout, stderr bytes.Buffer
		err := runBench(context.Background(), tc.args, &stdout, &stderr)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bench %v: err = %v, want a usage error containing %q", tc.args, err, tc.want)
		}
		if stdout.Len() > 0 {
			t.Errorf("bench %v printed to stdout: %q", tc.args, stdout.String())
		}
	}
}

func TestMainDispatch(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"bench", "-scenario", "nope"}, &stdout, &stderr); code != 2 {
		t.Errorf("unknown scenario: exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), `spool bench: unknown scenario "nope"`) {
		t.Errorf("unknown scenario: stderr = %q", stderr.String())
	}

	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"frobnicate"}, &stdout, &stderr); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), `unknown command "frobnicate"`) {
		t.Errorf("unknown command: stderr = %q", stderr.String())
	}

	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "bench") {
		t.Errorf("help: exit %d, stdout %q", code, stdout.String())
	}

	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"help", "bench"}, &stdout, &stderr); code != 0 {
		t.Errorf("help bench: exit %d", code)
	}
	for _, want := range []string{"-scenario", "-jobs", "-workers", "-producers", "-rate", "-duration", "-db", "-json", "enqueue-many", "backlog",
		"multiproc", "-procs", "-backlog", "-lease", "-busy-timeout"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help bench lacks %q", want)
		}
	}
	for _, hidden := range []string{"cpuprofile", "mp-child", "mp-dir"} {
		if strings.Contains(stdout.String(), hidden) {
			t.Errorf("help bench shows the hidden -%s flag", hidden)
		}
	}

	stdout.Reset()
	stderr.Reset()
	if err := runBench(context.Background(), []string{"-h"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("bench -h: err = %v, want flag.ErrHelp", err)
	}
}

// TestBenchMultiprocBacklog runs the multiproc scenario as a drain of a
// backlog across processes: every job of the backlog runs exactly once,
// split over the processes, and the drain's rate is the backlog over the
// last run of any process.
func TestBenchMultiprocBacklog(t *testing.T) {
	t.Parallel()
	const backlog = 3000
	r := spool(t, "bench", "-scenario", "multiproc", "-procs", "2", "-backlog", strconv.Itoa(backlog),
		"-workers", "4", "-duration", "2m", "-db", filepath.Join(t.TempDir(), "drain.db"), "-json")
	require.Equal(t, 0, r.code, "stderr:\n%s", r.stderr)
	var res multiprocResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res), r.stdout)
	require.Equal(t, backlog, res.Backlog)
	require.Zero(t, res.Producers, "a backlog without -producers has none")
	require.Equal(t, backlog, res.Enqueued)
	require.Equal(t, backlog, res.Completed)
	require.Zero(t, res.Lost)
	require.Zero(t, res.Duplicates)
	require.Empty(t, res.Left)
	runs := 0
	var last float64
	for _, p := range res.Processes {
		require.Zero(t, p.Enqueued, "proc %d", p.Proc)
		runs += p.Completed
		last = max(last, p.LastRunSeconds)
	}
	require.Equal(t, backlog, runs)
	require.Positive(t, last)
	require.Equal(t, last, res.DrainSeconds)
	require.InDelta(t, float64(backlog)/last, res.DrainedPerSec, 1)
	require.Less(t, res.DrainSeconds, 120.0, "ended at its cap, not when drained")
}

// TestBenchMultiproc runs the multiproc scenario briefly through the built
// binary (it runs itself again as its children) and checks that the report
// is complete and adds up: every acknowledged job is completed, left in the
// file or lost, and none is lost.
func TestBenchMultiproc(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "multiproc.db")
	r := spool(t, "bench", "-scenario", "multiproc", "-procs", "2", "-duration", "2s",
		"-producers", "2", "-workers", "4", "-db", path, "-json")
	require.Equal(t, 0, r.code, "stderr:\n%s", r.stderr)

	// Every field is there, and no other.
	var fields map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &fields), r.stdout)
	var res multiprocResult
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&res), r.stdout)
	require.False(t, dec.More(), "more than one JSON value: %s", r.stdout)
	for _, f := range []string{"scenario", "procs", "producers", "workers", "seconds", "lease_ms", "busy_timeout_ms",
		"processes", "throughput_ratio", "completed_ratio", "slowest_enqueue_ms", "longest_stall_ms", "busy_errors",
		"rescued", "lease_lost", "enqueued", "completed", "left", "lost", "duplicates", "extra_runs", "ran_unacknowledged"} {
		require.Contains(t, fields, f)
	}
	procFields := []string{"proc", "pid", "seconds", "enqueued", "enqueued_per_sec", "completed", "completed_per_sec",
		"enqueue_p50_ms", "enqueue_p99_ms", "enqueue_p999_ms", "enqueue_max_ms", "longest_stall_ms", "errors",
		"busy_errors", "rescued", "lease_lost", "warnings", "peak_rss_mb", "last_run_seconds"}
	for _, p := range fields["processes"].([]any) {
		for _, f := range procFields {
			require.Contains(t, p, f)
		}
	}

	require.Equal(t, "multiproc", res.Scenario)
	require.Equal(t, 2, res.Procs)
	require.Equal(t, 2, res.Producers)
	require.Equal(t, 4, res.Workers)
	require.Equal(t, 2.0, res.Seconds)
	require.Zero(t, res.LeaseMs, "-lease not given: the pool's default")

	// One row per process, each its own process.
	require.Len(t, res.Processes, 2)
	pids := map[int]bool{}
	var enqueued, runs, busy, rescued, lost int
	var slowest, stall float64
	for i, p := range res.Processes {
		require.Equal(t, i+1, p.Proc)
		require.NotZero(t, p.PID)
		require.False(t, pids[p.PID], "two rows for pid %d", p.PID)
		pids[p.PID] = true
		require.Positive(t, p.Seconds)
		require.LessOrEqual(t, p.P50ms, p.P99ms, "proc %d", p.Proc)
		require.LessOrEqual(t, p.P99ms, p.P999ms, "proc %d", p.Proc)
		require.LessOrEqual(t, p.P999ms, p.MaxMs, "proc %d", p.Proc)
		require.Positive(t, p.LongestStallMs, "proc %d", p.Proc)
		require.Equal(t, p.Errors["busy"], p.BusyErrors, "proc %d", p.Proc)
		require.NotNil(t, p.PeakRSSMB, "proc %d", p.Proc)
		enqueued += p.Enqueued
		runs += p.Completed
		busy += p.BusyErrors
		rescued += p.Rescued
		lost += p.LeaseLost
		slowest, stall = max(slowest, p.MaxMs), max(stall, p.LongestStallMs)
	}
	require.Equal(t, 2, len(pids))

	// The totals are the rows'.
	require.Equal(t, enqueued, res.Enqueued)
	require.Equal(t, busy, res.BusyErrors)
	require.Equal(t, rescued, res.Rescued)
	require.Equal(t, lost, res.LeaseLost)
	require.Equal(t, slowest, res.SlowestEnqueueMs)
	require.Equal(t, stall, res.LongestStallMs)
	for _, ratio := range []*float64{res.ThroughputRatio, res.CompletedRatio} {
		if ratio != nil {
			require.GreaterOrEqual(t, *ratio, 1.0)
		}
	}

	// Every acknowledged job is accounted for, and none is lost.
	require.Positive(t, res.Enqueued, "no process enqueued a job")
	require.Zero(t, res.Lost)
	left := 0
	for state, n := range res.Left {
		require.True(t, queue.State(state).Valid(), "left in unknown state %q", state)
		require.Positive(t, n)
		left += n
	}
	require.Equal(t, res.Enqueued, res.Completed+left+res.Lost)
	require.LessOrEqual(t, res.Completed, res.Enqueued)
	require.GreaterOrEqual(t, runs, res.Completed+res.ExtraRuns, "fewer handler runs than jobs completed")
	require.LessOrEqual(t, runs, res.Enqueued+res.RanUnacknowledged+res.ExtraRuns, "more handler runs than jobs")
	require.LessOrEqual(t, res.Duplicates, res.ExtraRuns)

	// The jobs left are in the kept file.
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{ReadOnly: true})
	require.NoError(t, err)
	defer st.Close()
	stats, err := st.Stats(context.Background(), time.Now())
	require.NoError(t, err)
	inFile := 0
	for _, q := range stats.Queues {
		inFile += q.Pending + q.Scheduled + q.Blocked + q.Running + q.Completed + q.Cancelled + q.Dead
	}
	require.Equal(t, left, inFile, "jobs left by the report and in %s: %+v", path, stats.Queues)

	// The table shows a row per process and the totals.
	var table bytes.Buffer
	printMultiproc(&table, &res)
	for _, want := range []string{"processes", "ErrBusy", "lease lost", "enqueued/s ratio max/min", "slowest enqueue",
		"longest stall", "lost", "run more than once", "log warnings"} {
		require.Contains(t, table.String(), want)
	}
	require.Regexp(t, `(?m)^\s+1\s+\d+\s+\d+`, table.String())
	require.Regexp(t, `(?m)^\s+2\s+\d+\s+\d+`, table.String())
}

// TestBenchMultiprocNotFromTests: the parent runs its own binary as the
// children, so it refuses to run from a test binary (which would run the
// tests again) rather than fork it.
func TestBenchMultiprocNotFromTests(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runBench(context.Background(), []string{"-scenario", "multiproc", "-duration", "1s"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "test binary") {
		t.Fatalf("err = %v, want a refusal to run a test binary as children", err)
	}
}

func TestLongestGap(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		returns []time.Duration
		want    time.Duration
	}{
		{nil, 2000 * ms}, // nothing returned: the whole window
		{[]time.Duration{5 * ms, 10 * ms, 900 * ms, 2100 * ms}, 1200 * ms},
		{[]time.Duration{700 * ms, 710 * ms}, 700 * ms}, // from the start
	} {
		require.Equal(t, tc.want, longestGap(tc.returns, 2000*ms), "returns %v", tc.returns)
	}
}

// TestLogCounter: the children count the pool's warnings by message, and
// pass on only the first few of each.
func TestLogCounter(t *testing.T) {
	var out bytes.Buffer
	h := &logCounter{counts: map[string]int{}, out: slog.NewTextHandler(&out, nil)}
	log := slog.New(h).With("pool", "p1")
	for range 5 {
		log.Warn(logRescued, "job", 7)
	}
	log.Error(logLostBeforeSettle+" (the job was rescued or cancelled meanwhile)", "job", 8)
	log.Info("spool: pool started")
	require.Equal(t, map[string]int{logRescued: 5, logLostBeforeSettle + " (the job was rescued or cancelled meanwhile)": 1}, h.snapshot())
	require.Equal(t, logShown+1, strings.Count(out.String(), "\n"), out.String())
	require.Contains(t, out.String(), "further records of this message are only counted")
}
