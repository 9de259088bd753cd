package main

// The job commands: ls, show, enqueue, retry, cancel and delete.

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// ls lists jobs newest first, filtered by queue, state, kind and text,
// paged with -limit and -before (the next -before on stderr).
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

// show prints a job with its payload and attempt errors; -json has every
// field, and flags may follow the job ID.
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

// show of an ID the database does not hold says what it can tell: that
// the job may have completed and been deleted (no completed jobs are kept
// here), whether newer jobs exist; exit status 3 all the same.
func TestCLIShowMissing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	complete := func(keep bool) int64 {
		res, err := f.q.Enqueue(ctx, queue.NewJob{Kind: "report.send", Queue: "reports"})
		require.NoError(t, err)
		now := time.Now()
		lease, err := f.store.Lease(ctx, queue.LeaseParams{Queue: "reports", Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "test"})
		require.NoError(t, err)
		require.Len(t, lease.Jobs, 1)
		j := lease.Jobs[0]
		require.Equal(t, res.ID, j.ID)
		errs, err := f.store.Settle(ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue,
			Outcome: queue.OutcomeComplete, Now: now, Keep: keep}})
		require.NoError(t, err)
		require.NoError(t, errs[0])
		return j.ID
	}
	gone := complete(false)
	newer, err := f.q.Enqueue(ctx, queue.NewJob{Kind: "report.send", Queue: "other"})
	require.NoError(t, err)
	id := strconv.FormatInt(gone, 10)
	fails(t, exitNotFound, fmt.Sprintf("unknown job id %d: newer jobs exist (up to %d), so it may have completed and been deleted (this database keeps no completed jobs), or been deleted", gone, newer.ID),
		"show", "-db", f.path, id)
	fails(t, exitNotFound, fmt.Sprintf("unknown job id 4242: no job here has an ID that high (the newest is %d); it may have completed and been deleted (this database keeps no completed jobs)", newer.ID),
		"show", "-db", f.path, "4242", "-json")

	// Where completed jobs are kept, a missing one was deleted or pruned.
	complete(true)
	fails(t, exitNotFound, "so it may have been deleted, or pruned after it completed or was cancelled", "show", "-db", f.path, id)
	r := fails(t, exitNotFound, "unknown job id 4242: no job here has an ID that high", "show", "-db", f.path, "4242")
	require.NotContains(t, r.stderr, "completed")
}

// enqueue takes the job's options as flags and prints the new ID; a unique
// key already held prints the existing job's ID and says so on stderr; the
// payload may come from stdin and the database from SPOOL_DB.
func TestCLIEnqueue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := ok(t, "enqueue", "-db", f.path, "-queue", "mail", "-priority", "7", "-max-attempts", "3", "-order-key", "cust-1",
		"-partition-key", "acct-7", "email.receipt", `{"order": 1}`)
	id, err := strconv.ParseInt(strings.TrimSpace(r.stdout), 10, 64)
	require.NoError(t, err, "enqueue prints the new ID: %q", r.stdout)
	j := f.job(t, id)
	require.Equal(t, "mail", j.Queue)
	require.Equal(t, "email.receipt", j.Kind)
	require.Equal(t, 7, j.Priority)
	require.Equal(t, 3, j.MaxAttempts)
	require.Equal(t, "cust-1", j.OrderKey)
	require.Equal(t, "acct-7", j.PartitionKey)
	require.Contains(t, ok(t, "show", "-db", f.path, strconv.FormatInt(id, 10)).stdout, "acct-7", "spool show names the partition key")
	require.Contains(t, ok(t, "show", "-db", f.path, "-json", strconv.FormatInt(id, 10)).stdout, `"partition_key": "acct-7"`)
	bad := spool(t, "enqueue", "-db", f.path, "-partition-key", strings.Repeat("k", 513), "email.receipt")
	require.NotZero(t, bad.code)
	require.Contains(t, bad.stderr, "-partition-key", "the error names the flag")
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

// retry, cancel and delete act on one job or, with -dead, on the dead jobs
// of a queue or all of them; each refuses a job in the wrong state.
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
	require.Equal(t, "retried 1 dead job\n", r.stdout)
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
	require.Equal(t, "deleted 1 dead job\n", r.stdout)
	_, err = f.q.Inspector().Get(ctx, d3)
	require.ErrorIs(t, err, queue.ErrNotFound)
	require.Equal(t, queue.StatePending, f.job(t, a1).State, "live jobs stay")
}

// A replay makes a new delivery job that holds the unique key of the dead
// delivery of the same event. "spool retry" of that dead job names the job
// holding the key (rather than saying the job is not dead), and "spool
// retry -dead" retries the rest, names the held jobs and exits 1 (rather
// than skipping them without a word and exiting 0).
func TestCLIRetryKeyHeldByReplay(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	// Both deliveries of the fixture's subscription die.
	now := time.Now()
	l, err := f.store.Lease(ctx, queue.LeaseParams{Queue: "notify", Limit: 10, Now: now, Until: now.Add(time.Minute), Worker: "t"})
	require.NoError(t, err)
	require.Len(t, l.Jobs, 2)
	bySeq := map[string]int64{}
	for _, j := range l.Jobs {
		errs, err := f.store.Settle(ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Outcome: queue.OutcomeDead, Now: now, Reason: "test"}})
		require.NoError(t, err)
		require.NoError(t, errs[0])
		bySeq[j.Metadata["spool.seq"]] = j.ID
	}
	dead1, dead2 := bySeq["1"], bySeq["2"]
	// The handler is fixed; event 1 is replayed: a new job holds its key.
	ok(t, "replay", "-db", f.path, "-topic", fixtureTopic, "-from", "1", "-to", "1", fixtureSub)
	jobs, err := f.q.Inspector().List(ctx, queue.ListFilter{Queue: "notify", State: queue.StatePending})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	holder := jobs[0].ID
	key := f.job(t, dead1).UniqueKey

	before := f.snapshot(t)
	fails(t, 1, fmt.Sprintf("dead job %d stays dead: its unique key %q is held by live job %d", dead1, key, holder),
		"retry", "-db", f.path, strconv.FormatInt(dead1, 10))
	require.Equal(t, before, f.snapshot(t))

	r := spool(t, "retry", "-db", f.path, "-dead", "-queue", "notify", "-json")
	require.Equal(t, 1, r.code, r.stderr)
	var out struct {
		Retried int `json:"retried"`
		Skipped []struct {
			ID        int64  `json:"id"`
			UniqueKey string `json:"unique_key"`
			HeldBy    int64  `json:"held_by"`
		} `json:"skipped"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
	require.Equal(t, 1, out.Retried)
	require.Len(t, out.Skipped, 1)
	require.Equal(t, dead1, out.Skipped[0].ID)
	require.Equal(t, key, out.Skipped[0].UniqueKey)
	require.Equal(t, holder, out.Skipped[0].HeldBy)
	require.Contains(t, r.stderr, fmt.Sprintf("job %d stayed dead: its unique key %q is held by live job %d", dead1, key, holder))
	require.Contains(t, r.stderr, "1 dead job stayed dead")
	require.Equal(t, queue.StatePending, f.job(t, dead2).State)
	require.Equal(t, queue.StateDead, f.job(t, dead1).State)

	// Without -json: the count on stdout, the held job on stderr.
	r = spool(t, "retry", "-db", f.path, "-dead", "-all")
	require.Equal(t, 1, r.code, r.stderr)
	require.Equal(t, "retried 1 dead job\n", r.stdout, "the fixture's own dead job")
	require.Contains(t, r.stderr, fmt.Sprintf("job %d stayed dead", dead1))
}

// spool show says how many failed attempts a job's bounded error history
// dropped and shows the gap where they were; -json has errors_dropped.
func TestCLIShowDroppedAttempts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spool.db")
	store, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	now := time.Now()
	ids, err := store.Enqueue(ctx, nil, now, []queue.NewJob{{Queue: queue.DefaultQueue, Kind: "sync", Payload: []byte("{}"), MaxAttempts: 100, RunAt: now}})
	require.NoError(t, err)
	id := ids[0].ID
	for a := 1; a <= 12; a++ {
		now = now.Add(time.Second)
		res, err := store.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "test"})
		require.NoError(t, err)
		require.Len(t, res.Jobs, 1)
		j := res.Jobs[0]
		errs, err := store.Settle(ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue,
			Outcome: queue.OutcomeRetry, Now: now, RunAt: now,
			Error: &queue.AttemptError{Attempt: j.Attempt, At: now, Message: fmt.Sprintf("timeout %d", j.Attempt)}}})
		require.NoError(t, err)
		require.NoError(t, errs[0])
	}

	out := ok(t, "show", "-db", path, strconv.FormatInt(id, 10)).stdout
	require.Contains(t, out, "Errors (12 failed attempts, 10 kept):")
	first := strings.Index(out, "attempt 1 at")
	gap := strings.Index(out, "  … 2 attempts not kept …\n")
	fourth := strings.Index(out, "attempt 4 at")
	require.NotEqual(t, -1, first, out)
	require.NotEqual(t, -1, gap, "the gap is shown: %s", out)
	require.NotEqual(t, -1, fourth, out)
	require.Less(t, first, gap, "the gap lies between attempt 1 and attempt 4")
	require.Less(t, gap, fourth)
	require.NotContains(t, out, "attempt 2 at")
	require.NotContains(t, out, "attempt 3 at")
	require.Contains(t, out, "timeout 12")

	var j struct {
		Errors []struct {
			Attempt int `json:"attempt"`
		} `json:"errors"`
		ErrorsDropped int `json:"errors_dropped"`
	}
	okJSON(t, &j, "show", "-db", path, strconv.FormatInt(id, 10))
	require.Equal(t, 2, j.ErrorsDropped)
	require.Len(t, j.Errors, 10)
	require.Equal(t, 1, j.Errors[0].Attempt)
	require.Equal(t, 4, j.Errors[1].Attempt)
}

// run-now makes a scheduled job ready at once; a job that is not
// scheduled is refused and left as it was; an unknown id is exit 3.
func TestCLIRunNow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := strconv.FormatInt(f.later, 10)
	require.Equal(t, queue.StateScheduled, f.job(t, f.later).State)
	r := ok(t, "run-now", "-db", f.path, id)
	require.Equal(t, fmt.Sprintf("job %d is ready to run\n", f.later), r.stdout)
	require.Equal(t, queue.StatePending, f.job(t, f.later).State)
	fails(t, 1, "(pending): queue: job is not scheduled: only a scheduled job can be run now", "run-now", "-db", f.path, id)
	fails(t, 3, "unknown job id 4242", "run-now", "-db", f.path, "4242")
}
