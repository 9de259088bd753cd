package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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
	errs, err := store.Settle(ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue,
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

type statsOut struct {
	Now    time.Time `json:"now"`
	Queues []struct {
		Name                 string  `json:"name"`
		Pending              int     `json:"pending"`
		Scheduled            int     `json:"scheduled"`
		Blocked              int     `json:"blocked"`
		Running              int     `json:"running"`
		Dead                 int     `json:"dead"`
		OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
		Paused               bool    `json:"paused"`
		MaxPending           int     `json:"max_pending"`
	} `json:"queues"`
	Throughput []struct {
		Minute    time.Time `json:"minute"`
		Completed int       `json:"completed"`
		Failed    int       `json:"failed"`
		Dead      int       `json:"dead"`
	} `json:"throughput"`
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

func TestCLIStats(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := ok(t, "stats", "-db", f.path)
	for _, want := range []string{"QUEUE", "PENDING", "SCHEDULED", "BLOCKED", "RUNNING", "DEAD", "OLDEST PENDING", "PAUSED", "LIMIT",
		"payments", "mail", "notify", "Last 5 minutes", "MINUTE (UTC)"} {
		require.Contains(t, r.stdout, want)
	}
	columnsAligned(t, r.stdout[:strings.Index(r.stdout, "\n\n")+1], "QUEUE", "PENDING", "SCHEDULED", "DEAD", "PAUSED")

	var st statsOut
	okJSON(t, &st, "stats", "-db", f.path)
	byName := map[string]int{}
	for i, q := range st.Queues {
		byName[q.Name] = i
	}
	require.Len(t, st.Queues, 4, "%+v", st.Queues)
	mail, pay, def, notify := st.Queues[byName["mail"]], st.Queues[byName["payments"]], st.Queues[byName["default"]], st.Queues[byName["notify"]]
	require.True(t, mail.Paused)
	require.Equal(t, 1, mail.Pending)
	require.Greater(t, mail.OldestPendingSeconds, 0.0)
	require.Equal(t, 1, pay.Dead)
	require.False(t, pay.Paused)
	require.Equal(t, 1, def.Scheduled)
	require.Equal(t, 2, notify.Pending)
	require.Len(t, st.Throughput, 5)
	dead := 0
	for _, m := range st.Throughput {
		dead += m.Dead
	}
	require.Equal(t, 1, dead, "the settled dead job counts in the throughput")
	require.WithinDuration(t, time.Now(), st.Now, time.Minute)

	okJSON(t, &st, "stats", "-db", f.path, "-minutes", "2")
	require.Len(t, st.Throughput, 2)
}

func TestCLIList(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := ok(t, "ls", "-db", f.path)
	columnsAligned(t, r.stdout, "ID", "QUEUE", "KIND", "STATE", "ATTEMPT")
	require.Contains(t, r.stdout, "card declined")

	var all lsOut
	okJSON(t, &all, "ls", "-db", f.path)
	require.Len(t, all.Jobs, 5)
	ids := all.ids()
	require.True(t, slices.IsSortedFunc(ids, func(a, b int64) int { return int(b - a) }), "newest first: %v", ids)
	require.Zero(t, all.NextBefore)

	var out lsOut
	okJSON(t, &out, "ls", "-db", f.path, "-queue", "payments")
	require.Equal(t, []int64{f.dead}, out.ids())
	require.Equal(t, "dead", out.Jobs[0].State)
	require.Equal(t, "card declined", out.Jobs[0].LastError)
	require.Equal(t, "permanent error: card declined", out.Jobs[0].DeadReason)

	okJSON(t, &out, "ls", "-db", f.path, "-state", "scheduled")
	require.Equal(t, []int64{f.later}, out.ids())
	okJSON(t, &out, "ls", "-db", f.path, "-kind", "email.send")
	require.Equal(t, []int64{f.mail}, out.ids())
	okJSON(t, &out, "ls", "-db", f.path, "-search", "ada@example")
	require.Equal(t, []int64{f.mail}, out.ids())
	okJSON(t, &out, "ls", "-db", f.path, "-state", "dead", "-kind", "email.send")
	require.Empty(t, out.Jobs)

	// Paging: -limit and -before.
	okJSON(t, &out, "ls", "-db", f.path, "-limit", "2")
	require.Equal(t, ids[:2], out.ids())
	require.Equal(t, ids[1], out.NextBefore)
	okJSON(t, &out, "ls", "-db", f.path, "-limit", "2", "-before", strconv.FormatInt(out.NextBefore, 10))
	require.Equal(t, ids[2:4], out.ids())
	r = ok(t, "ls", "-db", f.path, "-limit", "2")
	require.Contains(t, r.stderr, fmt.Sprintf("-before %d", ids[1]))
}

func TestCLIShow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := ok(t, "show", "-db", f.path, strconv.FormatInt(f.dead, 10))
	for _, want := range []string{"payments", "payment.charge", "dead", "Attempts:", "1 of 25", "permanent error: card declined",
		`"order": 10245`, "attempt 1 at", "card declined"} {
		require.Contains(t, r.stdout, want)
	}
	var j struct {
		ID              int64          `json:"id"`
		State           string         `json:"state"`
		PayloadEncoding string         `json:"payload_encoding"`
		Payload         map[string]any `json:"payload"`
		Errors          []struct {
			Attempt int    `json:"attempt"`
			Error   string `json:"error"`
		} `json:"errors"`
		FinishedAt *time.Time `json:"finished_at"`
		LeaseUntil *time.Time `json:"lease_until"`
	}
	// Flags may follow the argument.
	okJSON(t, &j, "show", strconv.FormatInt(f.dead, 10), "-db", f.path)
	require.Equal(t, f.dead, j.ID)
	require.Equal(t, "dead", j.State)
	require.Equal(t, "json", j.PayloadEncoding)
	require.Equal(t, 10245.0, j.Payload["order"])
	require.Len(t, j.Errors, 1)
	require.Equal(t, "card declined", j.Errors[0].Error)
	require.NotNil(t, j.FinishedAt)
	require.Nil(t, j.LeaseUntil)
}

func TestCLIEnqueue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := ok(t, "enqueue", "-db", f.path, "-queue", "mail", "-priority", "7", "-max-attempts", "3", "-order-key", "cust-1",
		"email.receipt", `{"order": 1}`)
	id, err := strconv.ParseInt(strings.TrimSpace(r.stdout), 10, 64)
	require.NoError(t, err, "enqueue prints the new ID: %q", r.stdout)
	j := f.job(t, id)
	require.Equal(t, "mail", j.Queue)
	require.Equal(t, "email.receipt", j.Kind)
	require.Equal(t, 7, j.Priority)
	require.Equal(t, 3, j.MaxAttempts)
	require.Equal(t, "cust-1", j.OrderKey)
	require.JSONEq(t, `{"order": 1}`, string(j.Payload))
	require.Equal(t, queue.StatePending, j.State)

	var res struct {
		ID        int64 `json:"id"`
		Duplicate bool  `json:"duplicate"`
	}
	okJSON(t, &res, "enqueue", "-db", f.path, "-unique", "invoice:9", "-delay", "90s", "invoice.send")
	require.False(t, res.Duplicate)
	j = f.job(t, res.ID)
	require.Equal(t, queue.StateScheduled, j.State)
	require.Equal(t, "invoice:9", j.UniqueKey)
	require.Equal(t, queue.DefaultQueue, j.Queue)
	require.Equal(t, "{}", string(j.Payload), "the payload defaults to {}")
	require.WithinDuration(t, time.Now().Add(90*time.Second), j.RunAt, 30*time.Second)

	first := res.ID
	okJSON(t, &res, "enqueue", "-db", f.path, "-unique", "invoice:9", "invoice.send")
	require.Equal(t, struct {
		ID        int64 `json:"id"`
		Duplicate bool  `json:"duplicate"`
	}{first, true}, res)
	r = ok(t, "enqueue", "-db", f.path, "-unique", "invoice:9", "invoice.send")
	require.Equal(t, fmt.Sprintf("%d\n", first), r.stdout, "the existing job's ID, alone, for scripts")
	require.Contains(t, r.stderr, fmt.Sprintf("duplicate: job %d", first))

	// The payload from stdin, and the database from SPOOL_DB.
	cmd := exec.Command(spoolBinary(t), "enqueue", "import.row", "-")
	cmd.Env = cleanEnv(dbEnv + "=" + f.path)
	cmd.Stdin = strings.NewReader(`{"row": 17}` + "\n")
	out, err := cmd.Output()
	require.NoError(t, err)
	id, err = strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	require.NoError(t, err)
	require.JSONEq(t, `{"row": 17}`, string(f.job(t, id).Payload))

	jobs, err := f.q.Inspector().List(ctx, queue.ListFilter{})
	require.NoError(t, err)
	require.Len(t, jobs, 8)
}

func TestCLIRetryCancelDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	dead := strconv.FormatInt(f.dead, 10)

	r := ok(t, "retry", "-db", f.path, dead)
	require.Equal(t, fmt.Sprintf("retried job %d\n", f.dead), r.stdout)
	j := f.job(t, f.dead)
	require.Equal(t, queue.StatePending, j.State)
	require.Len(t, j.Errors, 1, "a retried job keeps its error history")
	fails(t, 1, fmt.Sprintf("job %d is pending: only dead jobs can be retried", f.dead), "retry", "-db", f.path, dead)

	// Make dead jobs in two queues, then retry by queue and then all.
	kill := func(queueName string) int64 {
		res, err := f.q.Enqueue(ctx, queue.NewJob{Kind: "x.y", Queue: queueName})
		require.NoError(t, err)
		now := time.Now()
		l, err := f.store.Lease(ctx, queue.LeaseParams{Queue: queueName, Limit: 10, Now: now, Until: now.Add(time.Minute), Worker: "t"})
		require.NoError(t, err)
		for _, j := range l.Jobs {
			_, err := f.store.Settle(ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Outcome: queue.OutcomeDead, Now: now, Reason: "test"}})
			require.NoError(t, err)
		}
		return res.ID
	}
	a1, a2, b := kill("qa"), kill("qa"), kill("qb")
	var n struct {
		Retried int `json:"retried"`
	}
	okJSON(t, &n, "retry", "-db", f.path, "-dead", "-queue", "qa")
	require.Equal(t, 2, n.Retried)
	require.Equal(t, queue.StatePending, f.job(t, a1).State)
	require.Equal(t, queue.StatePending, f.job(t, a2).State)
	require.Equal(t, queue.StateDead, f.job(t, b).State)
	r = ok(t, "retry", "-db", f.path, "-dead", "-all")
	require.Equal(t, "retried 1 dead jobs\n", r.stdout)
	require.Equal(t, queue.StatePending, f.job(t, b).State)

	// cancel: a pending job at once.
	var c struct {
		ID              int64  `json:"id"`
		State           string `json:"state"`
		CancelRequested bool   `json:"cancel_requested"`
	}
	okJSON(t, &c, "cancel", "-db", f.path, strconv.FormatInt(f.later, 10))
	require.Equal(t, f.later, c.ID)
	require.Equal(t, "cancelled", c.State)
	require.False(t, c.CancelRequested)
	require.Equal(t, queue.StateCancelled, f.job(t, f.later).State)
	fails(t, 1, fmt.Sprintf("job %d is already cancelled", f.later), "cancel", "-db", f.path, strconv.FormatInt(f.later, 10))
	r = ok(t, "cancel", "-db", f.path, strconv.FormatInt(f.mail, 10))
	require.Equal(t, fmt.Sprintf("cancelled job %d\n", f.mail), r.stdout)

	// delete: gone for good; a running job is refused.
	r = ok(t, "delete", "-db", f.path, strconv.FormatInt(f.later, 10))
	require.Equal(t, fmt.Sprintf("deleted job %d\n", f.later), r.stdout)
	_, err := f.q.Inspector().Get(ctx, f.later)
	require.ErrorIs(t, err, queue.ErrNotFound)
	now := time.Now()
	l, err := f.store.Lease(ctx, queue.LeaseParams{Queue: "qb", Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "t"})
	require.NoError(t, err)
	require.Len(t, l.Jobs, 1)
	fails(t, 1, "is running: cancel it first", "delete", "-db", f.path, strconv.FormatInt(b, 10))
	okJSON(t, &c, "cancel", "-db", f.path, strconv.FormatInt(b, 10))
	require.Equal(t, "running", c.State)
	require.True(t, c.CancelRequested)

	// delete -dead: only dead jobs, by queue, then all.
	d1, d2, d3 := kill("qc"), kill("qc"), kill("qd")
	var del struct {
		Deleted int `json:"deleted"`
	}
	okJSON(t, &del, "delete", "-db", f.path, "-dead", "-queue", "qc")
	require.Equal(t, 2, del.Deleted)
	for _, id := range []int64{d1, d2} {
		_, err := f.q.Inspector().Get(ctx, id)
		require.ErrorIs(t, err, queue.ErrNotFound)
	}
	require.Equal(t, queue.StateDead, f.job(t, d3).State)
	require.Equal(t, queue.StatePending, f.job(t, a1).State, "live jobs stay")
	r = ok(t, "delete", "-db", f.path, "-dead", "-all")
	require.Equal(t, "deleted 1 dead jobs\n", r.stdout)
	_, err = f.q.Inspector().Get(ctx, d3)
	require.ErrorIs(t, err, queue.ErrNotFound)
	require.Equal(t, queue.StatePending, f.job(t, a1).State, "live jobs stay")
}

func TestCLIPauseResume(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	paused := func(name string) bool {
		st, err := f.q.Inspector().Stats(ctx)
		require.NoError(t, err)
		for _, q := range st.Queues {
			if q.Name == name {
				return q.Paused
			}
		}
		return false
	}
	r := ok(t, "resume", "-db", f.path, "mail")
	require.Equal(t, "resumed queue mail\n", r.stdout)
	require.False(t, paused("mail"))
	r = ok(t, "pause", "-db", f.path, "payments")
	require.Equal(t, "paused queue payments\n", r.stdout)
	require.True(t, paused("payments"))
	require.Empty(t, r.stderr)
	var out struct {
		Queue  string `json:"queue"`
		Paused bool   `json:"paused"`
	}
	okJSON(t, &out, "pause", "-db", f.path, "imports")
	require.Equal(t, "imports", out.Queue)
	require.True(t, out.Paused)
	require.True(t, paused("imports"))
	r = ok(t, "pause", "-db", f.path, "imports")
	require.Contains(t, r.stderr, "queue imports has no jobs yet")
}

func TestCLISchedules(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := ok(t, "schedules", "-db", f.path)
	columnsAligned(t, r.stdout, "NAME", "SPEC", "ZONE", "KIND", "QUEUE", "NEXT", "PAUSED")
	require.Contains(t, r.stdout, fixtureSchedule)
	require.Contains(t, r.stdout, "30 2 * * *")

	var list struct {
		Schedules []struct {
			Name      string     `json:"name"`
			Spec      string     `json:"spec"`
			TimeZone  string     `json:"time_zone"`
			Kind      string     `json:"kind"`
			Queue     string     `json:"queue"`
			Next      *time.Time `json:"next_run"`
			Prev      *time.Time `json:"prev_run"`
			Paused    bool       `json:"paused"`
			TriggerAt *time.Time `json:"trigger_requested_at"`
		} `json:"schedules"`
	}
	okJSON(t, &list, "schedules", "-db", f.path)
	require.Len(t, list.Schedules, 1)
	s := list.Schedules[0]
	require.Equal(t, fixtureSchedule, s.Name)
	require.Equal(t, "UTC", s.TimeZone)
	require.Equal(t, "stock.sync", s.Kind)
	require.Equal(t, "maintenance", s.Queue)
	require.NotNil(t, s.Next)
	require.Equal(t, 2, s.Next.Hour())
	require.Equal(t, 30, s.Next.Minute())
	require.Nil(t, s.Prev)
	require.False(t, s.Paused)

	state := func() queue.ScheduleState {
		list, err := f.store.Schedules(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
		return list[0]
	}
	r = ok(t, "schedules", "pause", fixtureSchedule, "-db", f.path)
	require.Equal(t, "paused schedule "+fixtureSchedule+"\n", r.stdout)
	require.True(t, state().Paused)
	okJSON(t, &s, "schedules", "-db", f.path, "resume", fixtureSchedule)
	require.False(t, s.Paused)
	require.False(t, state().Paused)
	r = ok(t, "schedules", "-db", f.path, "trigger", fixtureSchedule)
	require.Contains(t, r.stdout, "triggered schedule "+fixtureSchedule)
	require.False(t, state().TriggerAt.IsZero())
	r = ok(t, "schedules", "-db", f.path)
	require.Contains(t, r.stdout, "requested")
}

func TestCLITopics(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := ok(t, "topics", "-db", f.path)
	columnsAligned(t, r.stdout, "TOPIC", "LAST SEQ", "EVENTS")
	require.Contains(t, r.stdout, fixtureTopic)
	var topics struct {
		Topics []struct {
			Name     string `json:"name"`
			LastSeq  int64  `json:"last_seq"`
			FirstSeq int64  `json:"first_seq"`
			Events   int    `json:"events"`
		} `json:"topics"`
	}
	okJSON(t, &topics, "topics", "-db", f.path)
	require.Len(t, topics.Topics, 1)
	require.Equal(t, fixtureTopic, topics.Topics[0].Name)
	require.EqualValues(t, 2, topics.Topics[0].LastSeq)
	require.EqualValues(t, 1, topics.Topics[0].FirstSeq)
	require.Equal(t, 2, topics.Topics[0].Events)

	r = ok(t, "subs", "-db", f.path)
	columnsAligned(t, r.stdout, "NAME", "PATTERN", "QUEUE", "CURSOR", "BACKLOG", "LAG")
	require.Contains(t, r.stdout, fixtureSub)
	type subsOut struct {
		Subscriptions []struct {
			Name    string `json:"name"`
			Pattern string `json:"pattern"`
			Queue   string `json:"queue"`
			Kind    string `json:"kind"`
			Cursor  int64  `json:"cursor"`
			Backlog int    `json:"backlog"`
			Lag     int    `json:"lag"`
		} `json:"subscriptions"`
	}
	var subs subsOut
	okJSON(t, &subs, "subs", "-db", f.path)
	require.Len(t, subs.Subscriptions, 1)
	sub := subs.Subscriptions[0]
	require.Equal(t, fixtureSub, sub.Name)
	require.Equal(t, "orders.*", sub.Pattern)
	require.Equal(t, "notify", sub.Queue)
	require.Positive(t, sub.Cursor)
	require.Equal(t, 0, sub.Backlog)
	require.Equal(t, 2, sub.Lag, "two delivered events wait to be handled")

	type eventsOut struct {
		Events []struct {
			Seq     int64          `json:"seq"`
			Topic   string         `json:"topic"`
			Payload map[string]any `json:"payload"`
		} `json:"events"`
		NextFrom int64 `json:"next_from"`
	}
	var ev eventsOut
	okJSON(t, &ev, "events", fixtureTopic, "-db", f.path)
	require.Len(t, ev.Events, 2)
	require.EqualValues(t, 1, ev.Events[0].Seq)
	require.Equal(t, 1.0, ev.Events[0].Payload["order"])
	require.Zero(t, ev.NextFrom)
	ev = eventsOut{}
	okJSON(t, &ev, "events", fixtureTopic, "-db", f.path, "-limit", "1")
	require.Len(t, ev.Events, 1)
	require.EqualValues(t, 2, ev.NextFrom)
	ev = eventsOut{}
	okJSON(t, &ev, "events", fixtureTopic, "-db", f.path, "-from", "2")
	require.Len(t, ev.Events, 1)
	require.EqualValues(t, 2, ev.Events[0].Seq)
	ev = eventsOut{}
	okJSON(t, &ev, "events", "-db", f.path, "-topic", fixtureTopic, "-from", "2")
	require.Len(t, ev.Events, 1, "-topic, as replay takes it")
	fails(t, 2, "missing TOPIC", "events", "-db", f.path)
	fails(t, 2, "two topics", "events", "-db", f.path, "-topic", "orders.x", fixtureTopic)
	r = ok(t, "events", fixtureTopic, "-db", f.path)
	columnsAligned(t, r.stdout, "SEQ", "ID", "PUBLISHED", "PAYLOAD")
	require.Contains(t, r.stdout, `{"order":2}`)

	// Replay: events whose jobs are still live are not delivered twice;
	// once handled (here: deleted), they are.
	var rep struct {
		Subscription string `json:"subscription"`
		Topic        string `json:"topic"`
		Jobs         int    `json:"jobs"`
	}
	okJSON(t, &rep, "replay", fixtureSub, "-topic", fixtureTopic, "-db", f.path)
	require.Equal(t, 0, rep.Jobs)
	jobs, err := f.q.Inspector().List(ctx, queue.ListFilter{Queue: "notify"})
	require.NoError(t, err)
	require.Len(t, jobs, 2)
	for _, j := range jobs {
		require.NoError(t, f.q.Inspector().Delete(ctx, j.ID))
	}
	r = ok(t, "replay", fixtureSub, "-topic", fixtureTopic, "-from", "2", "-to", "2", "-db", f.path)
	require.Equal(t, "replayed 1 events of orders.created to subscription orders.mailer\n", r.stdout)
	jobs, err = f.q.Inspector().List(ctx, queue.ListFilter{Queue: "notify"})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	require.JSONEq(t, `{"order":2}`, string(jobs[0].Payload))
	fails(t, 2, `subscription "orders.mailer" (pattern "orders.*") does not receive topic "orders.shipped.late"`,
		"replay", fixtureSub, "-topic", "orders.shipped.late", "-db", f.path)
}

func TestCLIMigrateVacuum(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "new.db")
	r := ok(t, "migrate", "-db", path)
	require.Equal(t, fmt.Sprintf("created %s, schema version %d\n", path, sqlite.SchemaVersion()), r.stdout)
	var m struct {
		Path          string `json:"path"`
		SchemaVersion int    `json:"schema_version"`
		Action        string `json:"action"`
	}
	okJSON(t, &m, "migrate", "-db", path)
	require.Equal(t, sqlite.SchemaVersion(), m.SchemaVersion)
	require.Equal(t, "none", m.Action)
	r = ok(t, "stats", "-db", path)
	require.Contains(t, r.stderr, "no queues")

	// An app's SQLite database gets the spool tables beside its own.
	app := filepath.Join(dir, "app.db")
	makeAppDB(t, app)
	okJSON(t, &m, "migrate", "-db", app)
	require.Equal(t, "added", m.Action)
	ok(t, "ls", "-db", app)

	f := newFixture(t)
	for i := range 200 {
		_, err := f.q.Enqueue(context.Background(), queue.NewJob{Kind: "bulk", Args: map[string]string{"pad": strings.Repeat("x", 2000), "i": strconv.Itoa(i)}})
		require.NoError(t, err)
	}
	jobs, err := f.q.Inspector().List(context.Background(), queue.ListFilter{Kind: "bulk", Limit: 1000})
	require.NoError(t, err)
	for _, j := range jobs {
		require.NoError(t, f.q.Inspector().Delete(context.Background(), j.ID))
	}
	require.NoError(t, f.store.Checkpoint(context.Background()))
	var v struct {
		Path        string `json:"path"`
		BytesBefore int64  `json:"bytes_before"`
		BytesAfter  int64  `json:"bytes_after"`
	}
	okJSON(t, &v, "vacuum", "-db", f.path)
	require.Equal(t, f.path, v.Path)
	require.Less(t, v.BytesAfter, v.BytesBefore, "vacuum returns the deleted jobs' pages")
	r = ok(t, "vacuum", "-db", f.path)
	require.Contains(t, r.stdout, "vacuumed "+f.path)
	var ls lsOut
	okJSON(t, &ls, "ls", "-db", f.path)
	require.Len(t, ls.Jobs, 5, "vacuum keeps every job")
}

// makeAppDB creates an SQLite database with a table of its own.
func makeAppDB(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER); INSERT INTO orders VALUES (1, 4999)`)
	require.NoError(t, err)
}

// dbCommands are invocations of every command that opens a database,
// with arguments that would be valid on the fixture.
var dbCommands = [][]string{
	{"stats"}, {"ls"}, {"show", "1"}, {"enqueue", "email.send", "{}"}, {"retry", "1"}, {"retry", "-dead", "-all"},
	{"cancel", "1"}, {"delete", "1"}, {"delete", "-dead", "-all"}, {"pause", "mail"}, {"resume", "mail"}, {"schedules"},
	{"schedules", "trigger", fixtureSchedule}, {"topics"}, {"subs"}, {"events", fixtureTopic},
	{"replay", fixtureSub, "-topic", fixtureTopic}, {"vacuum"}, {"admin", "-read-only", "-addr", "127.0.0.1:0", "-password", "pw"},
	{"admin", "-addr", "127.0.0.1:0", "-no-auth"},
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// A -wal left without its database file: every command refuses, names the
// -wal and says what to do; none (migrate included) creates a database
// over it or changes it.
func TestCLIOrphanWAL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "lost.db")
	wal := []byte("the log of a database file that was deleted")
	require.NoError(t, os.WriteFile(path+"-wal", wal, 0o644))
	for _, args := range append(dbCommands, []string{"migrate"}) {
		r := spool(t, append(args, "-db", path)...)
		require.NotEqual(t, 0, r.code, "%v", args)
		require.Contains(t, r.stderr, path+"-wal", "%v", args)
		require.Contains(t, r.stderr, "restore the database file", "%v", args)
	}
	require.Equal(t, []string{"lost.db-wal"}, dirEntries(t, dir), "a command created a file")
	got, err := os.ReadFile(path + "-wal")
	require.NoError(t, err)
	require.Equal(t, wal, got, "a command changed the -wal")
}

func TestCLIMissingFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "missing.db")
	for _, args := range dbCommands {
		fails(t, exitNoDatabase, "no such file "+path, append(args, "-db", path)...)
		r := spoolEnv(t, []string{dbEnv + "=" + path}, args...)
		require.Equal(t, exitNoDatabase, r.code, "%v with %s: %s", args, dbEnv, r.stderr)
		require.Contains(t, r.stderr, "no such file "+path)
	}
	require.Empty(t, dirEntries(t, dir), "a command created a file")

	// -db wins over SPOOL_DB.
	f := newFixture(t)
	r := spoolEnv(t, []string{dbEnv + "=" + path}, "ls", "-db", f.path)
	require.Equal(t, 0, r.code, r.stderr)
	r = spoolEnv(t, []string{dbEnv + "=" + f.path}, "ls")
	require.Equal(t, 0, r.code, r.stderr)
	require.Empty(t, dirEntries(t, dir))
}

func TestCLINotASpoolDatabase(t *testing.T) {
	t.Parallel()
	for name, create := range map[string]func(t *testing.T, path string){
		"sqlite app database": makeAppDB,
		"text file": func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte("not a database at all\n"), 0o644))
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "other.db")
			create(t, path)
			before, err := os.ReadFile(path)
			require.NoError(t, err)
			files := dirEntries(t, dir)
			cmds := dbCommands
			if name == "text file" {
				cmds = append(cmds, []string{"migrate"})
			}
			for _, args := range cmds {
				fails(t, exitNoDatabase, path+" is not a spool database", append(args, "-db", path)...)
			}
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			require.True(t, bytes.Equal(before, after), "a command changed the file")
			require.Equal(t, files, dirEntries(t, dir), "a command created a file")
		})
	}
	t.Run("newer schema", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		_, err := f.store.DB().Exec(`INSERT INTO spool_migrations (version, name, applied_at) VALUES (99, 'future', 0)`)
		require.NoError(t, err)
		before := f.snapshot(t)
		for _, args := range [][]string{{"ls"}, {"pause", "payments"}, {"migrate"}} {
			fails(t, exitNoDatabase, "newer than this spool's", append(args, "-db", f.path)...)
		}
		require.Equal(t, before, f.snapshot(t))
	})
}

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
	fails(t, 2, "no database: set -db PATH or the SPOOL_DB environment variable", "ls")
	fails(t, 2, `unknown command "frob"`, "frob")
	r := spool(t)
	require.Equal(t, 2, r.code)
	require.Equal(t, before, f.snapshot(t), "a usage error changed the database")
}

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

// adminServer is a running "spool admin".
type adminServer struct {
	cmd    *exec.Cmd
	addr   string
	stderr *bytes.Buffer
	mu     *sync.Mutex
	done   chan error
}

var listenRE = regexp.MustCompile(`listening on (\S+) `)

// startAdmin starts spool admin and waits for the address it listens on.
func startAdmin(t *testing.T, env []string, args ...string) *adminServer {
	t.Helper()
	cmd := exec.Command(spoolBinary(t), append([]string{"admin", "-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = cleanEnv(env...)
	pipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &adminServer{cmd: cmd, stderr: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			s.mu.Lock()
			s.stderr.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		s.done <- cmd.Wait()
	}()
	select {
	case s.addr = <-addr:
	case <-time.After(20 * time.Second):
		t.Fatalf("spool admin did not print its address; stderr: %s", s.log())
	}
	return s
}

func (s *adminServer) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// stop interrupts the server and requires a clean exit.
func (s *adminServer) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(os.Interrupt))
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		require.NoError(t, err, "spool admin exit; stderr: %s", s.log())
	case <-time.After(20 * time.Second):
		t.Fatalf("spool admin did not stop on SIGINT; stderr: %s", s.log())
	}
	require.Contains(t, s.log(), "spool admin: stopped")
}

func get(t *testing.T, url, user, password string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestCLIAdmin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	// No password, no server.
	fails(t, 2, "the admin needs a password: set -password or SPOOL_ADMIN_PASSWORD", "admin", "-db", f.path, "-addr", "127.0.0.1:0")

	s := startAdmin(t, []string{adminPasswordEnv + "=s3cret"}, "-db", f.path)
	base := "http://" + s.addr
	require.Contains(t, s.log(), "user admin")
	require.Equal(t, http.StatusUnauthorized, get(t, base+"/", "", "").StatusCode)
	require.Equal(t, http.StatusUnauthorized, get(t, base+"/", "admin", "wrong").StatusCode)
	resp := get(t, base+"/", "admin", "s3cret")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), "payments")
	resp = get(t, base+"/api/jobs?queue=payments", "admin", "s3cret")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var api struct {
		Jobs []struct {
			ID int64 `json:"id"`
		} `json:"jobs"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&api))
	require.Len(t, api.Jobs, 1)
	require.Equal(t, f.dead, api.Jobs[0].ID)
	s.stop(t)

	// -read-only, -user, -password and -prefix: actions are refused.
	s = startAdmin(t, nil, "-db", f.path, "-read-only", "-user", "ops", "-password", "pw", "-prefix", "/admin")
	base = "http://" + s.addr
	require.Contains(t, s.log(), "read-only")
	require.Equal(t, http.StatusUnauthorized, get(t, base+"/admin/", "admin", "pw").StatusCode)
	require.Equal(t, http.StatusOK, get(t, base+"/admin/", "ops", "pw").StatusCode)
	req, err := http.NewRequest(http.MethodPost, base+"/admin/api/queues/resume", strings.NewReader(`{"queue":"mail"}`))
	require.NoError(t, err)
	req.SetBasicAuth("ops", "pw")
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	s.stop(t)
}

// Job data is anyone's text: what a terminal would act on (an escape
// sequence that clears the screen, a bidirectional override) is printed
// escaped, in tables and in show.
func TestCLIEscapesControlCharacters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	evil := "boom \x1b]0;PWNED\x07\x1b[2J \u202egnp.exe"
	res, err := f.q.Enqueue(ctx, queue.NewJob{Kind: "evil.kind", Queue: "evil", Payload: []byte(evil),
		Metadata: map[string]string{"note": evil}})
	require.NoError(t, err)
	now := time.Now()
	l, err := f.store.Lease(ctx, queue.LeaseParams{Queue: "evil", Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "t"})
	require.NoError(t, err)
	require.Len(t, l.Jobs, 1)
	j := l.Jobs[0]
	_, err = f.store.Settle(ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue,
		Outcome: queue.OutcomeDead, Now: now, Reason: evil, Error: &queue.AttemptError{Attempt: 1, At: now, Message: evil}}})
	require.NoError(t, err)

	for _, args := range [][]string{
		{"show", "-db", f.path, strconv.FormatInt(res.ID, 10)},
		{"ls", "-db", f.path, "-queue", "evil"},
	} {
		r := ok(t, args...)
		require.NotContains(t, r.stdout, "\x1b", "spool %v", args)
		require.NotContains(t, r.stdout, "\x07", "spool %v", args)
		require.NotContains(t, r.stdout, "\u202e", "spool %v", args)
		require.Contains(t, r.stdout, `\x1b]0;PWNED\x07`, "spool %v: escaped, still readable", args)
	}
}
