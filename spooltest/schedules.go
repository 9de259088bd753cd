package spooltest

import (
	"context"
	"testing"
	"time"

	"github.com/spooljobs/spool/schedule"
)

// RunSchedulesOnce runs one round of s (schedule.Scheduler.RunOnce) at the
// kit's clock: it enqueues the due tick of each schedule, failing t on an
// error. It returns the time of the next tick (zero if none). s must read
// the kit's clock: build it on the kit's queue with no Options.Now of its
// own.
func (k *Kit) RunSchedulesOnce(ctx context.Context, t testing.TB, s *schedule.Scheduler) time.Time {
	t.Helper()
	next, err := s.RunOnce(ctx)
	if err != nil {
		t.Fatalf("spooltest: scheduler round: %v", err)
	}
	return next
}

// maxTicks bounds the rounds of one RunSchedules.
const maxTicks = 100_000

// RunSchedules moves the kit's clock forward by d, stopping at every tick
// of s's schedules on the way to run a scheduler round there, so that
// each tick in the span is enqueued at its own time, as a running
// scheduler enqueues it (not skipped as a misfire, as one round after a
// long Advance would). It returns the number of rounds it ran. The jobs
// stay queued: Drain runs them.
func (k *Kit) RunSchedules(ctx context.Context, t testing.TB, s *schedule.Scheduler, d time.Duration) int {
	t.Helper()
	end := k.Now().Add(d)
	next := k.RunSchedulesOnce(ctx, t, s)
	rounds := 1
	for !next.IsZero() && !next.After(end) {
		if rounds >= maxTicks {
			t.Fatalf("spooltest: RunSchedules: more than %d ticks in %s", maxTicks, d)
			return rounds
		}
		if wait := next.Sub(k.Now()); wait > 0 {
			k.Advance(wait)
		}
		next = k.RunSchedulesOnce(ctx, t, s)
		rounds++
	}
	if wait := end.Sub(k.Now()); wait > 0 {
		k.Advance(wait)
		k.RunSchedulesOnce(ctx, t, s)
		rounds++
	}
	return rounds
}
