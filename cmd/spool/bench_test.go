package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"path/filepath"
	"strings"
	"testing"
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

func TestBenchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-scenario", "nope"}, `unknown scenario "nope" (want one of drain, enqueue, enqueue-many, latency, mixed, backlog)`},
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
	for _, want := range []string{"-scenario", "-jobs", "-workers", "-producers", "-rate", "-duration", "-db", "-json", "enqueue-many", "backlog"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help bench lacks %q", want)
		}
	}
	if strings.Contains(stdout.String(), "cpuprofile") {
		t.Errorf("help bench shows the hidden -cpuprofile flag")
	}

	stdout.Reset()
	stderr.Reset()
	if err := runBench(context.Background(), []string{"-h"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("bench -h: err = %v, want flag.ErrHelp", err)
	}
}
