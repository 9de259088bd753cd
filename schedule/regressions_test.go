package schedule_test

// Regression tests for bugs a review of the package found: each failed
// before its fix.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
)

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

// Changing a schedule's spec between deploys does not enqueue, at once, a
// "missed" tick of the new spec that fell between the old cursor and now.
func TestSpecChangeDoesNotFireAtDeploy(t *testing.T) {
	t.Parallel()
	path := tempDB(t)
	a := newNode(t, path, newClock(time.Time{}), schedule.Options{})
	require.NoError(t, a.s.Add(schedule.Entry{Name: "nightly", Spec: "0 3 * * *", Job: queue.NewJob{Kind: "nightly"}}))
	a.run(t, utc("2026-02-01T00:00:00Z"))
	a.run(t, utc("2026-02-01T03:00:00Z"))
	require.Equal(t, []string{"2026-02-01T03:00:00Z"}, ticks(t, a.q, "nightly"))
	require.NoError(t, a.store.Close())

	// Deploy at 10:00 with the job moved to 05:00; the scheduler ran all
	// along, nothing was missed.
	b := newNode(t, path, newClock(time.Time{}), schedule.Options{})
	require.NoError(t, b.s.Add(schedule.Entry{Name: "nightly", Spec: "0 5 * * *", Job: queue.NewJob{Kind: "nightly"}}))
	b.run(t, utc("2026-02-01T10:00:00Z"))
	require.Equal(t, []string{"2026-02-01T03:00:00Z"}, ticks(t, b.q, "nightly"), "a second nightly run at deploy time")
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
