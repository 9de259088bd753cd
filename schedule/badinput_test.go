package schedule_test

// Regression tests for issue 12, item 8 (c, d): schedules that were
// accepted by Add but stored in a form no process reads back, or whose
// every tick then failed to enqueue. Each failed before its fix.

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
)

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
