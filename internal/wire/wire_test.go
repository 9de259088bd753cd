package wire_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
)

// keys returns the JSON object keys v encodes to.
func keys(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func TestJob(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 2, 15, 4, 5, 0, time.FixedZone("CET", 3600))
	j := &queue.Job{ID: 7, Queue: "mail", Kind: "email.send", State: queue.StatePending, CreatedAt: at, RunAt: at,
		Timeout: 1500 * time.Millisecond, Payload: []byte(`{"to":"ada"}`)}
	list := wire.NewJob(j, false)
	require.Equal(t, at.UTC(), list.CreatedAt)
	require.Equal(t, time.UTC, list.RunAt.Location(), "times in UTC")
	require.Nil(t, list.AttemptedAt, "a time that has not happened is null")
	require.EqualValues(t, 1500, list.TimeoutMS)
	require.Empty(t, list.PayloadEncoding, "a listing leaves the payload out")
	require.NotContains(t, keys(t, list), "payload")

	full := wire.NewJob(j, true)
	require.Equal(t, "json", full.PayloadEncoding)
	require.Equal(t, []queue.AttemptError{}, full.Errors)
	m := keys(t, full)
	require.Equal(t, map[string]any{"to": "ada"}, m["payload"])
	require.Contains(t, m, "attempted_at")
	require.Nil(t, m["attempted_at"])

	page := keys(t, wire.NewJobPage(nil, 0))
	require.Equal(t, []any{}, page["jobs"], "an empty page is [], not null")
	require.NotContains(t, page, "next_before")
}

// TestSchedule pins the names the admin API and the CLI drifted apart on.
func TestSchedule(t *testing.T) {
	t.Parallel()
	next := time.Date(2026, 3, 3, 2, 30, 0, 0, time.FixedZone("CET", 3600))
	m := keys(t, wire.NewSchedule(schedule.Info{Name: "nightly", Spec: "30 2 * * *", TimeZone: "Europe/Berlin", Next: next}))
	require.Equal(t, "2026-03-03T01:30:00Z", m["next_run"])
	for _, k := range []string{"prev_run", "trigger_requested_at"} {
		require.Contains(t, m, k)
		require.Nil(t, m[k])
	}
	for _, k := range []string{"next", "prev", "trigger_at"} {
		require.NotContains(t, m, k)
	}
	require.Equal(t, false, m["registered"])
}

func TestSubscriptionAndEvents(t *testing.T) {
	t.Parallel()
	s := keys(t, wire.NewSubscription(queue.SubscriptionInfo{Subscription: queue.Subscription{Name: "stock", Pattern: "orders.created"}}))
	require.Equal(t, map[string]any{}, s["filter"], "no filter is {}")
	p := keys(t, wire.NewEventPage("orders.created", []queue.EventRecord{{ID: 1, Topic: "orders.created", Seq: 1, Payload: []byte("hi")}}, 0))
	require.Equal(t, "orders.created", p["topic"])
	ev := p["events"].([]any)[0].(map[string]any)
	require.Equal(t, "text", ev["payload_encoding"])
	require.Equal(t, "hi", ev["payload"])
}

func TestResults(t *testing.T) {
	t.Parallel()
	require.Equal(t, map[string]any{"id": 7.0, "retried": 1.0}, keys(t, wire.RetryResult{ID: 7, Retried: 1}))
	require.Equal(t, map[string]any{"retried": 2.0, "skipped": []any{map[string]any{"id": 3.0, "unique_key": "k", "held_by": 4.0}}},
		keys(t, wire.NewRetryResult(0, 2, []queue.KeyHeldError{{JobID: 3, Key: "k", HolderID: 4}})))
	require.Equal(t, map[string]any{"deleted": 5.0}, keys(t, wire.DeleteResult{Deleted: 5}))
	require.Equal(t, map[string]any{"id": 7.0, "state": "running", "cancel_requested": true}, keys(t, wire.NewCancelResult(7, queue.StateRunning)))
	paused := false
	require.Equal(t, map[string]any{"name": "n", "paused": false}, keys(t, wire.ScheduleResult{Name: "n", Paused: &paused}))
	require.Equal(t, map[string]any{"name": "n", "trigger_requested": true}, keys(t, wire.ScheduleResult{Name: "n", TriggerRequested: true}))
	require.Equal(t, map[string]any{"subscription": "s", "topic": "t", "jobs": 0.0}, keys(t, wire.ReplayResult{Subscription: "s", Topic: "t"}))
	require.Equal(t, map[string]any{"error": "nope"}, keys(t, wire.Error{Error: "nope"}))
}

func TestFormat(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		d         time.Duration
		cli, page string
	}{
		{250 * time.Millisecond, "250ms", "250ms"},
		{45 * time.Second, "45s", "45s"},
		{3*time.Minute + 12*time.Second, "3m12s", "3m 12s"},
		{3 * time.Minute, "3m", "3m"},
		{5*time.Hour + 3*time.Minute, "5h3m", "5h 3m"},
		{98 * time.Hour, "4d2h", "4d 2h"},
	} {
		require.Equal(t, c.cli, wire.Duration(c.d, ""), c.d)
		require.Equal(t, c.page, wire.Duration(c.d, " "), c.d)
	}
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	require.Equal(t, "3m12s ago", wire.Ago(now.Add(-192*time.Second), now, ""))
	require.Equal(t, "in 20s", wire.Ago(now.Add(20*time.Second), now, ""))
	require.Equal(t, "just now", wire.Ago(now.Add(-time.Millisecond), now, ""))
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1 000", -1234567: "-1 234 567"} {
		require.Equal(t, want, wire.Num(n, " "))
	}
	require.Nil(t, wire.UTC(time.Time{}))
	require.Equal(t, time.UTC, wire.UTC(now.In(time.FixedZone("X", 7200))).Location())
}

// TestProcesses pins the snake_case names of /api/processes and spool ps
// -json.
func TestProcesses(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 2, 15, 4, 5, 0, time.FixedZone("CET", 3600))
	m := keys(t, wire.NewProcesses(at, true, []queue.ProcessInfo{{ID: "u", Name: "web-1", Host: "h", PID: 7, Version: "devel",
		StartedAt: at, LastSeen: at, ExpiresAt: at, Queues: []queue.ProcessQueue{{Name: "mail", Concurrency: 3, Running: 1}}}}))
	require.Equal(t, true, m["tracked"])
	p := m["processes"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "name", "host", "pid", "version", "started_at", "last_seen", "expires_at", "queues"} {
		require.Contains(t, p, k)
	}
	require.Equal(t, "2026-03-02T14:04:05Z", p["started_at"])
	require.Equal(t, map[string]any{"name": "mail", "concurrency": 3.0, "running": 1.0}, p["queues"].([]any)[0])
	empty := keys(t, wire.NewProcesses(at, false, nil))
	require.Equal(t, []any{}, empty["processes"], "an empty list is [], not null")
}

// Wait keeps about two figures of an estimate.
func TestWait(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "<1ms", 999 * time.Microsecond: "<1ms", time.Millisecond: "1ms", 175750 * time.Microsecond: "176ms",
		999600 * time.Microsecond: "1s",
		1750 * time.Millisecond:   "1.8s", 4975 * time.Millisecond: "5s", 45 * time.Second: "45s", 30 * time.Minute: "30m",
	} {
		require.Equal(t, want, wire.Wait(d, ""), "%s", d)
	}
}
