package schedule_test

// Entries Add refuses, with the field and the reason.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
	"github.com/stretchr/testify/require"
)

func TestInvalidEntries(t *testing.T) {
	t.Parallel()
	n := newNode(t, tempDB(t), newClock(utc("2026-01-01T00:00:00Z")), schedule.Options{})
	job := queue.NewJob{Kind: "report"}
	require.NoError(t, n.s.Add(schedule.Entry{Name: "taken", Spec: "@daily", Job: job}))
	cases := []struct {
		entry  schedule.Entry
		field  string
		reason string
	}{
		{schedule.Entry{Name: "", Spec: "@daily", Job: job}, "Name", "empty name"},
		{schedule.Entry{Name: "bad name", Spec: "@daily", Job: job}, "Name", `character ' '`},
		{schedule.Entry{Name: "taken", Spec: "@hourly", Job: job}, "Name", "already added"},
		{schedule.Entry{Name: "empty", Spec: "  ", Job: job}, "Spec", "empty spec"},
		{schedule.Entry{Name: "minute", Spec: "61 * * * *", Job: job}, "Spec", `"61 * * * *": end of range (61) above maximum (59)`},
		{schedule.Entry{Name: "fields", Spec: "* * *", Job: job}, "Spec", "expected 5 to 6 fields"},
		{schedule.Entry{Name: "descriptor", Spec: "@fortnightly", Job: job}, "Spec", "unrecognized descriptor"},
		{schedule.Entry{Name: "every", Spec: "@every ninety", Job: job}, "Spec", "@every needs a duration such as 90s"},
		{schedule.Entry{Name: "never", Spec: "0 0 30 2 *", Job: job}, "Spec", "matches no time"},
		{schedule.Entry{Name: "prefix-only", Spec: "CRON_TZ=Europe/Berlin", Job: job}, "Spec", "no schedule after it"},
		{schedule.Entry{Name: "zone", Spec: "@daily", TimeZone: "Mars/Olympus_Mons", Job: job}, "TimeZone", `unknown time zone "Mars/Olympus_Mons"`},
		{schedule.Entry{Name: "zone-prefix", Spec: "CRON_TZ=Europe/Berlinn 0 2 * * *", Job: job}, "TimeZone", `unknown time zone "Europe/Berlinn"`},
		{schedule.Entry{Name: "zone-twice", Spec: "TZ=Europe/Paris 0 2 * * *", TimeZone: "Europe/Berlin", Job: job}, "TimeZone", "conflicts with the spec's prefix"},
		{schedule.Entry{Name: "local", Spec: "@daily", TimeZone: "Local", Job: job}, "TimeZone", "depends on the machine"},
		{schedule.Entry{Name: "misfire", Spec: "@daily", Misfire: "later", Job: job}, "Misfire", `unknown policy "later"`},
		{schedule.Entry{Name: "kind", Spec: "@daily"}, "Job.Kind", "empty name"},
		{schedule.Entry{Name: "queue", Spec: "@daily", Job: queue.NewJob{Kind: "k", Queue: "a b"}}, "Job.Queue", "character"},
		{schedule.Entry{Name: "priority", Spec: "@daily", Job: queue.NewJob{Kind: "k", Priority: 1001}}, "Job.Priority", "outside 0..1000"},
		{schedule.Entry{Name: "delay", Spec: "@daily", Job: queue.NewJob{Kind: "k", Delay: -time.Second}}, "Job.Delay", "negative"},
		{schedule.Entry{Name: "run-at", Spec: "@daily", Job: queue.NewJob{Kind: "k", RunAt: time.Now()}}, "Job.RunAt", "must be empty"},
		{schedule.Entry{Name: "key", Spec: "@daily", Job: queue.NewJob{Kind: "k", UniqueKey: "x"}}, "Job.UniqueKey", "must be empty"},
		{schedule.Entry{Name: "args", Spec: "@daily", Job: queue.NewJob{Kind: "k", UniqueByArgs: true}}, "Job.UniqueByArgs", "must be unset"},
		{schedule.Entry{Name: "expires", Spec: "@daily", Job: queue.NewJob{Kind: "k", ExpiresAt: time.Now()}}, "Job.ExpiresAt", "must be empty"},
		{schedule.Entry{Name: "order", Spec: "@daily", Job: queue.NewJob{Kind: "k", OrderKey: strings.Repeat("k", 513)}}, "Job.OrderKey", "513 bytes is longer than 512"},
		{schedule.Entry{Name: "args", Spec: "@daily", Job: queue.NewJob{Kind: "k", Args: func() {}}}, "Job.Args", "cannot encode func()"},
		{schedule.Entry{Name: "both", Spec: "@daily", Job: queue.NewJob{Kind: "k", Args: 1, Payload: []byte("1")}}, "Job.Args", "not both"},
		{schedule.Entry{Name: "meta", Spec: "@daily", Job: queue.NewJob{Kind: "k", Metadata: map[string]string{"": "x"}}}, "Job.Metadata", "empty key"},
	}
	for _, c := range cases {
		err := n.s.Add(c.entry)
		require.ErrorIs(t, err, schedule.ErrInvalid, "%+v", c.entry)
		var ie *schedule.InvalidError
		require.ErrorAs(t, err, &ie)
		require.Equal(t, c.entry.Name, ie.Name)
		require.Equal(t, c.field, ie.Field, "%v", err)
		require.Contains(t, err.Error(), c.reason)
		require.Contains(t, err.Error(), fmt.Sprintf("schedule %q", c.entry.Name), "the error names the schedule")
	}
	// Nothing invalid was registered.
	list, err := n.s.List(context.Background())
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "taken", list[0].Name)
}

// "@every" with a negative, zero, sub-second or fractional duration is
// refused: robfig/cron would quietly run it every second.
func TestEveryWithBadDurationIsInvalid(t *testing.T) {
	t.Parallel()
	n := newNode(t, tempDB(t), newClock(utc("2026-01-01T00:00:00Z")), schedule.Options{})
	for _, spec := range []string{"@every -1h", "@every 0s", "@every 500ms", "@every 1500ms"} {
		err := n.s.Add(schedule.Entry{Name: "every" + spec[7:], Spec: spec, Job: queue.NewJob{Kind: "x"}})
		var ie *schedule.InvalidError
		require.True(t, errors.As(err, &ie), "%q accepted", spec)
	}
}

// A spec with two zone prefixes is refused: "CRON_TZ=UTC CRON_TZ=Asia/Tokyo
// 0 3 * * *" was stored as the spec "CRON_TZ=Asia/Tokyo 0 3 * * *" in zone
// UTC, which no other process could read back, and ran at 03:00 UTC.
func TestSpecWithTwoZonePrefixesIsInvalid(t *testing.T) {
	t.Parallel()
	n := newNode(t, tempDB(t), newClock(utc("2026-01-01T00:00:00Z")), schedule.Options{})
	cases := []struct{ spec, zone string }{
		{"CRON_TZ=UTC CRON_TZ=Asia/Tokyo 0 3 * * *", ""},
		{"TZ=UTC TZ=Asia/Tokyo 0 3 * * *", ""},
		{"CRON_TZ=Asia/Tokyo TZ=Asia/Tokyo 0 3 * * *", ""},
		{"CRON_TZ=Asia/Tokyo CRON_TZ=UTC 0 3 * * *", "Asia/Tokyo"},
		{"CRON_TZ=UTC\tCRON_TZ=Asia/Tokyo 0 3 * * *", ""},
	}
	for i, c := range cases {
		err := n.s.Add(schedule.Entry{Name: "nightly" + string(rune('a'+i)), Spec: c.spec, TimeZone: c.zone, Job: queue.NewJob{Kind: "k"}})
		var ie *schedule.InvalidError
		require.True(t, errors.As(err, &ie), "%q accepted", c.spec)
		require.Equal(t, "Spec", ie.Field, c.spec)
		require.ErrorContains(t, err, "Asia/Tokyo", c.spec)
	}
	list, err := n.s.List(context.Background())
	require.NoError(t, err)
	require.Empty(t, list)
}

// A job template that Enqueue would refuse is refused by Add, with the
// queue's reason, instead of failing at every tick: metadata that is not
// valid UTF-8, metadata that the scheduler's own keys push over the limit,
// an oversize payload (given or encoded from Args), bad names and limits.
func TestAddRefusesTemplatesEnqueueRefuses(t *testing.T) {
	t.Parallel()
	n := newNode(t, tempDB(t), newClock(utc("2026-01-01T00:00:00Z")), schedule.Options{})
	near := strings.Repeat("x", 64<<10-len("big")-10) // fits alone, not with the tick's keys
	cases := []struct {
		name  string
		job   queue.NewJob
		field string
		is    error
	}{
		{"utf8", queue.NewJob{Kind: "k", Metadata: map[string]string{"tenant": "\xff\xfe"}}, "Job.Metadata", queue.ErrInvalidJob},
		{"nearfull", queue.NewJob{Kind: "k", Metadata: map[string]string{"big": near}}, "Job.Metadata", queue.ErrInvalidJob},
		{"payload", queue.NewJob{Kind: "k", Payload: make([]byte, queue.DefaultMaxPayloadBytes+1)}, "Job.Payload", queue.ErrPayloadTooLarge},
		{"args", queue.NewJob{Kind: "k", Args: strings.Repeat("y", queue.DefaultMaxPayloadBytes)}, "Job.Payload", queue.ErrPayloadTooLarge},
		{"kind", queue.NewJob{Kind: "bad kind"}, "Job.Kind", queue.ErrInvalidJob},
		{"queue", queue.NewJob{Kind: "k", Queue: "a//b"}, "Job.Queue", queue.ErrInvalidJob},
		{"priority", queue.NewJob{Kind: "k", Priority: queue.MaxPriority + 1}, "Job.Priority", queue.ErrInvalidJob},
		{"orderkey", queue.NewJob{Kind: "k", OrderKey: strings.Repeat("o", 513)}, "Job.OrderKey", queue.ErrInvalidJob},
	}
	for _, c := range cases {
		err := n.s.Add(schedule.Entry{Name: c.name, Spec: "@hourly", Job: c.job})
		var ie *schedule.InvalidError
		require.True(t, errors.As(err, &ie), "%s accepted", c.name)
		require.Equal(t, c.field, ie.Field, c.name)
		require.ErrorIs(t, err, schedule.ErrInvalid, c.name)
		require.ErrorIs(t, err, c.is, c.name)
	}
	// What Add accepts, its ticks enqueue.
	ok := queue.NewJob{Kind: "ok", Metadata: map[string]string{"tenant": "acme", "big": near[:60<<10]}}
	require.NoError(t, n.s.Add(schedule.Entry{Name: "fine", Spec: "@hourly", Job: ok}))
	n.run(t, utc("2026-01-01T00:00:01Z"))
	n.run(t, utc("2026-01-01T01:00:00Z"))
	require.Equal(t, []string{"2026-01-01T01:00:00Z"}, ticks(t, n.q, "ok"))
}
