package schedule

import (
	"time"

	"github.com/robfig/cron/v3"
)

// latestTick returns the latest tick of sched after `after` and at or before
// now, and false when there is none. It does not walk every tick of a long
// gap (an every-second spec after a week's outage): it looks back from now
// in windows that double until one holds a tick, then walks forward from
// there.
func latestTick(sched cron.Schedule, after, now time.Time) (time.Time, bool) {
	first := sched.Next(after)
	if first.IsZero() || first.After(now) {
		return time.Time{}, false
	}
	if d, ok := sched.(cron.ConstantDelaySchedule); ok {
		// @every: ticks are first + k·Delay, counted from the cursor.
		return first.Add(now.Sub(first) / d.Delay * d.Delay), true
	}
	t := first
	for w := time.Second; ; w *= 2 {
		from := now.Add(-w)
		if !from.After(t) {
			break
		}
		if c := sched.Next(from); !c.IsZero() && !c.After(now) {
			t = c
			break
		}
	}
	for {
		n := sched.Next(t)
		if n.IsZero() || n.After(now) {
			return t, true
		}
		t = n
	}
}

// nextTick returns the first tick after now, counting @every ticks from the
// cursor after; zero if the schedule has none within five years.
func nextTick(sched cron.Schedule, after, now time.Time) time.Time {
	if l, ok := latestTick(sched, after, now); ok {
		after = l
	}
	return sched.Next(after)
}
