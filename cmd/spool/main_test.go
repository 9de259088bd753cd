package main

// Exit codes and usage shared by every command.

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Bad flags and arguments exit 2 with the reason and a pointer to the
// command's help, and change nothing.
func TestCLIUsageErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	before := f.snapshot(t)
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"flag provided but not defined: -nope", []string{"ls", "-nope"}},
		{`invalid value "x" for flag -limit`, []string{"ls", "-limit", "x"}},
		{"-limit 0 is outside 1..1000", []string{"ls", "-limit", "0"}},
		{`-state "finished": want one of pending`, []string{"ls", "-state", "finished"}},
		{"-queue: name", []string{"ls", "-queue", "no spaces"}},
		{"-before -1 is negative", []string{"ls", "-before", "-1"}},
		{`unexpected argument "extra"`, []string{"ls", "extra"}},
		{"-minutes 61 is outside 1..60", []string{"stats", "-minutes", "61"}},
		{"missing job ID", []string{"show"}},
		{`job id "abc" is not a positive integer`, []string{"show", "abc"}},
		{"missing KIND", []string{"enqueue"}},
		{"the payload is not valid JSON", []string{"enqueue", "k", "{nope"}},
		{"-priority: 1001 is outside 0..1000", []string{"enqueue", "-priority", "1001", "k"}},
		{`invalid value "soon" for flag -delay`, []string{"enqueue", "-delay", "soon", "k"}},
		{"-delay: -1s is negative", []string{"enqueue", "-delay=-1s", "k"}},
		{"-max-attempts: -2 is negative", []string{"enqueue", "-max-attempts=-2", "k"}},
		{"KIND: name", []string{"enqueue", "bad kind"}},
		{"-unique: 600 bytes is longer than 512", []string{"enqueue", "-unique", strings.Repeat("u", 600), "k"}},
		{"-dead needs -queue, -kind or -all (-all retries every dead job)", []string{"retry", "-dead"}},
		{"drop the job ID 5", []string{"retry", "-dead", "-all", "5"}},
		{"-dead needs -queue, -kind or -all (-all deletes every dead job)", []string{"delete", "-dead"}},
		{"drop the job ID 5", []string{"delete", "-dead", "-all", "5"}},
		{"-queue, -kind and -all select dead jobs with -dead", []string{"delete", "5", "-all"}},
		{"-queue, -kind and -all select dead jobs with -dead", []string{"retry", "5", "-queue", "mail"}},
		{"missing job ID (or -dead", []string{"retry"}},
		{"missing QUEUE", []string{"pause"}},
		{`unknown action "delete"`, []string{"schedules", "delete", fixtureSchedule}},
		{"pause needs a schedule NAME", []string{"schedules", "pause"}},
		{"-from -1 is negative", []string{"events", fixtureTopic, "-from=-1"}},
		{"-to 1 is before -from 2", []string{"events", fixtureTopic, "-from", "2", "-to", "1"}},
		{"TOPIC: topic \"orders.*\" has the wildcard", []string{"events", "orders.*"}},
		{"-topic is required", []string{"replay", fixtureSub}},
		{"-addr \"8080\"", []string{"admin", "-addr", "8080", "-password", "pw"}},
		{"-no-auth and -password contradict", []string{"admin", "-no-auth", "-password", "pw"}},
		{"-prefix", []string{"admin", "-prefix", "admin/", "-password", "pw"}},
	} {
		r := fails(t, 2, tc.want, append(tc.args, "-db", f.path)...)
		require.Contains(t, r.stderr, "Run 'spool help "+tc.args[0]+"' for usage.")
	}
	fails(t, 2, "no database: set -db PATH (or a postgres:// URL) or the SPOOL_DB environment variable", "ls")
	r := fails(t, 2, `unknown command "frob"`, "frob")
	require.NotContains(t, r.stderr, "did you mean")
	r = spool(t)
	require.Equal(t, 2, r.code)
	require.Equal(t, before, f.snapshot(t), "a usage error changed the database")
}

// help lists every command; help CMD and CMD -h print the command's usage.
func TestCLIHelp(t *testing.T) {
	t.Parallel()
	r := ok(t, "help")
	for _, c := range commands() {
		require.Contains(t, r.stdout, "\t"+c.name+" ")
	}
	for _, c := range commands() {
		if c.name == "bench" {
			continue // bench_test.go covers it
		}
		h := ok(t, "help", c.name)
		require.True(t, strings.HasPrefix(h.stdout, "Usage: spool "+c.name), "help %s:\n%s", c.name, h.stdout)
		require.Contains(t, h.stdout, "-db path")
		// -h prints the same usage, on stderr, and exits 0.
		r := ok(t, c.name, "-h")
		require.Equal(t, h.stdout, r.stderr)
	}
}

// An unknown job, schedule, subscription or topic exits 3, in text and
// JSON, and changes nothing.
func TestCLINotFound(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	before := f.snapshot(t)
	for _, args := range [][]string{{"show", "4242"}, {"retry", "4242"}, {"cancel", "4242"}, {"delete", "4242"}} {
		fails(t, exitNotFound, "unknown job id 4242", append(args, "-db", f.path)...)
		fails(t, exitNotFound, "unknown job id 4242", append(args, "-db", f.path, "-json")...)
	}
	fails(t, exitNotFound, `unknown schedule "nightly.typo"`, "schedules", "pause", "nightly.typo", "-db", f.path)
	fails(t, exitNotFound, `unknown schedule "nightly.typo"`, "schedules", "trigger", "nightly.typo", "-db", f.path)
	fails(t, exitNotFound, `unknown subscription "nobody"`, "replay", "nobody", "-topic", fixtureTopic, "-db", f.path)
	fails(t, exitNotFound, `unknown topic "orders.deleted"`, "events", "orders.deleted", "-db", f.path)
	fails(t, exitNotFound, `no topic "orders.deleted"`, "replay", fixtureSub, "-topic", "orders.deleted", "-db", f.path)
	require.Equal(t, before, f.snapshot(t), "a command that failed changed the database")
}

// A mistyped command gets the closest one as a hint.
func TestCLIDidYouMean(t *testing.T) {
	t.Parallel()
	fails(t, 2, `spool: unknown command "stat"; did you mean stats?`, "stat", "-db", "x.db")
	fails(t, 2, `spool help: unknown command "scheduels"; did you mean schedules?`, "help", "scheduels")
	for typo, want := range map[string]string{"stat": "stats", "Stats": "stats", "sho": "show", "lst": "ls", "retyr": "retry",
		"evnets": "events", "sub": "subs", "topic": "topics", "vaccum": "vacuum", "migrat": "migrate",
		"frob": "", "x": "", "statistics": "", "": ""} {
		require.Equal(t, want, suggest(typo), "%q", typo)
	}
}

// Counts agree with their nouns.
func TestPlural(t *testing.T) {
	t.Parallel()
	for want, got := range map[string]string{
		"0 jobs": plural(0, "job"), "1 job": plural(1, "job"), "2 jobs": plural(int64(2), "job"),
		"1 process": plural(1, "process"), "3 processes": plural(3, "process"), "1 dead job": plural(1, "dead job"),
	} {
		require.Equal(t, want, got)
	}
}
