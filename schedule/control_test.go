package schedule_test

// Operators' controls: pause, resume and trigger, across processes and before the first round.

import (
	"context"
	"testing"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
	"github.com/stretchr/testify/require"
)

// Pause, resume and trigger hold across processes: here a second node
// without registrations (a CLI, an admin page) acts on the schedule that
// the first node runs.
func TestPauseResumeTriggerAcrossProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := tempDB(t)
	app := newNode(t, path, newClock(time.Time{}), schedule.Options{})
	require.NoError(t, app.s.Add(schedule.Entry{Name: "invoice.reminders", Spec: "0 9 * * *", TimeZone: "Europe/Berlin",
		Job: queue.NewJob{Kind: "invoice.remind"}}))
	cli := newNode(t, path, newClock(time.Time{}), schedule.Options{})

	// Unknown schedules are an error, also for a node that has it
	// registered elsewhere but not on the store yet.
	cli.clock.Set(utc("2026-04-01T00:00:00Z"))
	require.ErrorIs(t, cli.s.Pause(ctx, "invoice.reminders"), queue.ErrScheduleNotFound)
	require.ErrorIs(t, cli.s.Trigger(ctx, "nope"), queue.ErrScheduleNotFound)
	require.ErrorIs(t, cli.s.Resume(ctx, "nope"), queue.ErrScheduleNotFound)

	app.run(t, utc("2026-04-01T00:00:00Z"))
	app.run(t, utc("2026-04-01T07:00:00Z")) // 09:00 Berlin
	require.Equal(t, []string{"2026-04-01T09:00:00+02:00"}, ticks(t, app.q, "invoice.remind"))

	// Paused from the CLI: the app's scheduler enqueues nothing.
	require.NoError(t, cli.s.Pause(ctx, "invoice.reminders"))
	list, err := cli.s.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	info := list[0]
	require.True(t, info.Paused)
	require.False(t, info.Registered, "the CLI node knows it from the store only")
	require.Equal(t, "0 9 * * *", info.Spec)
	require.Equal(t, "Europe/Berlin", info.TimeZone)
	require.Equal(t, "invoice.remind", info.Kind)
	require.Equal(t, queue.DefaultQueue, info.Queue)
	require.Equal(t, schedule.MisfireCatchUp, info.Misfire)
	require.Equal(t, "2026-04-01T09:00:00+02:00", info.Prev.Format(time.RFC3339))
	require.Equal(t, "2026-04-02T09:00:00+02:00", info.Next.Format(time.RFC3339), "next run in the schedule's zone")

	for _, at := range []string{"2026-04-02T07:00:00Z", "2026-04-03T07:00:00Z", "2026-04-03T08:00:00Z"} {
		next := app.run(t, utc(at))
		require.True(t, next.IsZero(), "a paused schedule has no next tick to wait for")
	}
	require.Len(t, ticks(t, app.q, "invoice.remind"), 1)

	// A trigger runs it once, paused or not, served by the app's scheduler;
	// a second trigger before the first is served makes no second run.
	cli.clock.Set(utc("2026-04-03T08:10:00Z"))
	require.NoError(t, cli.s.Trigger(ctx, "invoice.reminders"))
	cli.clock.Set(utc("2026-04-03T08:11:00Z"))
	require.NoError(t, cli.s.Trigger(ctx, "invoice.reminders"))
	list, err = cli.s.List(ctx)
	require.NoError(t, err)
	require.Equal(t, utc("2026-04-03T08:10:00Z"), list[0].TriggerAt.UTC())
	cli.run(t, utc("2026-04-03T08:12:00Z")) // the CLI has no registration: it cannot serve it
	app.run(t, utc("2026-04-03T08:12:00Z"))
	app.run(t, utc("2026-04-03T08:13:00Z"))
	jobs, err := app.q.Inspector().List(ctx, queue.ListFilter{Kind: "invoice.remind", Limit: 10})
	require.NoError(t, err)
	require.Len(t, jobs, 2)
	triggered := jobs[0]
	require.Equal(t, "2026-04-03T08:10:00Z", triggered.Metadata[schedule.MetadataTrigger])
	require.Equal(t, "invoice.reminders", triggered.Metadata[schedule.MetadataSchedule])
	require.Empty(t, triggered.Metadata[schedule.MetadataTick])
	list, err = app.s.List(ctx)
	require.NoError(t, err)
	require.True(t, list[0].Registered)
	require.True(t, list[0].TriggerAt.IsZero(), "the request was served")
	require.Equal(t, utc("2026-04-03T08:10:00Z"), list[0].Prev.UTC())

	// Resumed: the ticks that passed while paused (04-02 and 04-03 09:00)
	// are skipped, not caught up; the next one fires.
	cli.clock.Set(utc("2026-04-03T08:30:00Z"))
	require.NoError(t, cli.s.Resume(ctx, "invoice.reminders"))
	app.run(t, utc("2026-04-03T08:31:00Z"))
	require.Len(t, ticks(t, app.q, "invoice.remind"), 2)
	app.run(t, utc("2026-04-04T07:00:00Z"))
	got := ticks(t, app.q, "invoice.remind")
	require.Equal(t, "2026-04-04T09:00:00+02:00", got[len(got)-1])
	require.Len(t, got, 3)
}

// Operator actions on a schedule added to this scheduler work before any
// round stored it; List shows it with its next run.
func TestActionsBeforeFirstRound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newNode(t, tempDB(t), newClock(utc("2026-01-01T12:00:00Z")), schedule.Options{})
	require.NoError(t, n.s.Add(schedule.Entry{Name: "nightly", Spec: "0 30 2 * * *", Job: queue.NewJob{Kind: "nightly"}}))
	list, err := n.s.List(ctx)
	require.NoError(t, err)
	require.Equal(t, []schedule.Info{{Name: "nightly", Spec: "0 30 2 * * *", TimeZone: "UTC", Kind: "nightly",
		Queue: "default", Misfire: schedule.MisfireCatchUp, Next: utc("2026-01-02T02:30:00Z"), Registered: true}}, list)

	require.NoError(t, n.s.Trigger(ctx, "nightly"))
	n.run(t, utc("2026-01-01T12:00:01Z"))
	jobs, err := n.q.Inspector().List(ctx, queue.ListFilter{Kind: "nightly"})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	require.Equal(t, "2026-01-01T12:00:00Z", jobs[0].Metadata[schedule.MetadataTrigger])
}

// Resume on a schedule that is not paused changes nothing: the tick missed
// during an outage is still caught up.
func TestResumeOfUnpausedScheduleKeepsMissedTick(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newNode(t, tempDB(t), newClock(time.Time{}), schedule.Options{})
	require.NoError(t, n.s.Add(schedule.Entry{Name: "hourly", Spec: "0 * * * *", Job: queue.NewJob{Kind: "hourly"}}))
	n.run(t, utc("2026-02-01T00:10:00Z"))
	// No scheduler ran from 00:10 to 03:20; an operator (or a deploy
	// script) resumes the schedule, which was never paused.
	n.clock.Set(utc("2026-02-01T03:20:00Z"))
	require.NoError(t, n.s.Resume(ctx, "hourly"))
	n.run(t, utc("2026-02-01T03:20:01Z"))
	require.Equal(t, []string{"2026-02-01T03:00:00Z"}, ticks(t, n.q, "hourly"), "catch-up lost by a no-op Resume")
}
