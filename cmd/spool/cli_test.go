package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
	"github.com/spooljobs/spool/sqlite"
)

// The commands are tested end to end: the spool binary, built once, runs
// against real database files made with the library.

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// spoolBinary builds the command once per test run.
func spoolBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "spool-cli-test-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "spool")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// cleanEnv is the test's environment without the variables spool reads.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, dbEnv+"=") || strings.HasPrefix(kv, adminPasswordEnv+"=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

type result struct {
	code           int
	stdout, stderr string
}

// spoolEnv runs the binary with args and extra environment variables.
func spoolEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(spoolBinary(t), args...)
	cmd.Env = cleanEnv(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("spool %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func spool(t *testing.T, args ...string) result {
	t.Helper()
	return spoolEnv(t, nil, args...)
}

// ok runs the command and requires exit status 0.
func ok(t *testing.T, args ...string) result {
	t.Helper()
	r := spool(t, args...)
	require.Equal(t, 0, r.code, "spool %v: stderr %s", args, r.stderr)
	return r
}

// fails runs the command and requires exit status code and a message on
// stderr containing want.
func fails(t *testing.T, code int, want string, args ...string) result {
	t.Helper()
	r := spool(t, args...)
	require.Equal(t, code, r.code, "spool %v: stdout %q, stderr %q", args, r.stdout, r.stderr)
	require.Contains(t, r.stderr, want, "spool %v", args)
	require.Empty(t, r.stdout, "spool %v printed on stdout though it failed", args)
	return r
}

// okJSON runs the command with -json and decodes its one JSON value.
func okJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	r := ok(t, append(args, "-json")...)
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	require.NoError(t, dec.Decode(v), "spool %v: %s", args, r.stdout)
	rest, _ := io.ReadAll(dec.Buffered())
	require.Empty(t, strings.TrimSpace(string(rest)), "spool %v: more than one JSON value", args)
	require.False(t, dec.More(), "spool %v: more than one JSON value", args)
}

// fixture is a spool database file with something in every table.
type fixture struct {
	path  string
	store *sqlite.Store
	q     *queue.Queue
	// mail: pending in the paused queue "mail"; later: scheduled an hour
	// ahead; dead: dead in "payments", with one attempt error.
	mail, later, dead int64
}

const (
	fixtureSchedule = "stock.sync.nightly"
	fixtureTopic    = "orders.created"
	fixtureSub      = "orders.mailer"
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spool.db")
	store, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	q, err := queue.New(store, queue.Options{})
	require.NoError(t, err)
	f := &fixture{path: path, store: store, q: q}

	enqueue := func(j queue.NewJob) int64 {
		res, err := q.Enqueue(ctx, j)
		require.NoError(t, err)
		return res.ID
	}
	f.dead = enqueue(queue.NewJob{Kind: "payment.charge", Queue: "payments", Args: map[string]any{"order": 10245, "amount": 4999}})
	now := time.Now()
	lease, err := store.Lease(ctx, queue.LeaseParams{Queue: "payments", Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "test"})
	require.NoError(t, err)
	require.Len(t, lease.Jobs, 1)
	j := lease.Jobs[0]
	errs, err := store.Settle(ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Kind: j.Kind, Wait: 3 * time.Second,
		Outcome: queue.OutcomeDead, Now: now, Reason: "permanent error: card declined",
		Error: &queue.AttemptError{Attempt: 1, At: now, Message: "card declined"}}})
	require.NoError(t, err)
	require.NoError(t, errs[0])

	f.mail = enqueue(queue.NewJob{Kind: "email.send", Queue: "mail", Priority: 5, Args: map[string]string{"to": "ada@example.com"}})
	require.NoError(t, q.Inspector().Pause(ctx, "mail"))
	f.later = enqueue(queue.NewJob{Kind: "report.build", Delay: time.Hour, UniqueKey: "report:2026-03"})

	sched, err := schedule.New(q, schedule.Options{Now: func() time.Time { return now }})
	require.NoError(t, err)
	require.NoError(t, sched.Add(schedule.Entry{Name: fixtureSchedule, Spec: "30 2 * * *",
		Job: queue.NewJob{Kind: "stock.sync", Queue: "maintenance"}}))
	_, err = sched.RunOnce(ctx)
	require.NoError(t, err)

	require.NoError(t, q.Topics().Subscribe(ctx, queue.Subscription{Name: fixtureSub, Pattern: "orders.*", Queue: "notify", Kind: "order.mail"}))
	for i := 1; i <= 2; i++ {
		_, err := q.Publish(ctx, queue.Event{Topic: fixtureTopic, Args: map[string]int{"order": i}})
		require.NoError(t, err)
	}
	return f
}

// snapshot is every job and queue of the fixture, to show that a failed
// command changed nothing.
func (f *fixture) snapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	jobs, err := f.q.Inspector().List(ctx, queue.ListFilter{Limit: 1000})
	require.NoError(t, err)
	st, err := f.q.Inspector().Stats(ctx)
	require.NoError(t, err)
	for i := range st.Queues {
		st.Queues[i].OldestPending = 0 // grows with the clock
	}
	scheds, err := f.store.Schedules(ctx)
	require.NoError(t, err)
	subs, err := f.q.Topics().Subscriptions(ctx)
	require.NoError(t, err)
	b, err := json.Marshal([]any{jobs, st.Queues, scheds, subs})
	require.NoError(t, err)
	return string(b)
}

func (f *fixture) job(t *testing.T, id int64) *queue.Job {
	t.Helper()
	j, err := f.q.Inspector().Get(context.Background(), id)
	require.NoError(t, err)
	return j
}

type lsOut struct {
	Jobs []struct {
		ID         int64  `json:"id"`
		Queue      string `json:"queue"`
		Kind       string `json:"kind"`
		State      string `json:"state"`
		Priority   int    `json:"priority"`
		LastError  string `json:"last_error"`
		DeadReason string `json:"dead_reason"`
	} `json:"jobs"`
	NextBefore int64 `json:"next_before"`
}

func (o lsOut) ids() []int64 {
	var ids []int64
	for _, j := range o.Jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

// columnsAligned checks that a table's cells start where their header's
// start, in every row.
func columnsAligned(t *testing.T, table string, headers ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	require.Greater(t, len(lines), 1, "table without rows:\n%s", table)
	for _, h := range headers {
		col := strings.Index(lines[0], h)
		require.GreaterOrEqual(t, col, 0, "header %q missing:\n%s", h, table)
		for _, l := range lines[1:] {
			require.Greater(t, len(l), col, "row too short for %q:\n%s", h, table)
			require.NotEqual(t, byte(' '), l[col], "column %q misaligned:\n%s", h, table)
			if col > 0 {
				require.Equal(t, byte(' '), l[col-1], "column %q misaligned:\n%s", h, table)
			}
		}
	}
}
