package schedule

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// walkLatest is latestTick the slow way: every tick from after on.
func walkLatest(e *entry, after, now time.Time) (time.Time, bool) {
	var last time.Time
	for t := e.sched.Next(after); !t.IsZero() && !t.After(now); t = e.sched.Next(t) {
		last = t
	}
	return last, !last.IsZero()
}

// latestTick's backward search agrees with walking every tick, also across
// daylight saving changes and for @every, whose ticks count from the cursor.
func TestLatestTickMatchesWalk(t *testing.T) {
	t.Parallel()
	specs := []string{
		"30 2 * * *", "0 * * * *", "*/7 * * * *", "15,45 1-3 * * *", "0 30 2 * * *",
		"* * * * * *", "*/13 * 2 * * *", "0 0 1 * *", "@daily", "@hourly", "@every 90s", "@every 1h7m",
		"0 9 * * MON-FRI",
	}
	bases := []time.Time{
		time.Date(2026, 3, 28, 22, 0, 0, 0, time.UTC),  // spring forward in Berlin and London
		time.Date(2026, 10, 24, 22, 0, 0, 0, time.UTC), // fall back
		time.Date(2026, 3, 8, 5, 0, 0, 0, time.UTC),    // spring forward in New York
		time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
	}
	zones := []string{"Europe/Berlin", "America/New_York", "UTC", "Australia/Lord_Howe"}
	rng := rand.New(rand.NewPCG(1, 2))
	q := testQueue(t)
	for _, spec := range specs {
		for _, zone := range zones {
			e, err := newEntry(q, Entry{Name: "x", Spec: spec, TimeZone: zone, Job: jobTemplate()}, bases[0])
			require.NoError(t, err, spec)
			for _, base := range bases {
				for range 15 {
					after := base.Add(time.Duration(rng.Int64N(int64(8 * time.Hour))))
					if rng.IntN(2) == 0 {
						after = after.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
					}
					now := after.Add(time.Duration(rng.Int64N(int64(30 * time.Hour))))
					if spec == "* * * * * *" || spec == "*/13 * 2 * * *" {
						now = after.Add(time.Duration(rng.Int64N(int64(40 * time.Minute))))
					}
					want, wantOK := walkLatest(e, after, now)
					got, ok := latestTick(e.sched, after, now)
					require.Equal(t, wantOK, ok, "%s in %s after %s now %s", spec, zone, after, now)
					require.True(t, want.Equal(got), "%s in %s after %s now %s: want %s, got %s", spec, zone, after, now, want, got)
				}
			}
		}
	}
}

// A week's outage of an every-second schedule costs a few dozen calls of
// Next, not 600,000.
func TestLatestTickLongGap(t *testing.T) {
	t.Parallel()
	e, err := newEntry(testQueue(t), Entry{Name: "x", Spec: "* * * * * *", Job: jobTemplate()}, time.Now())
	require.NoError(t, err)
	after := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := after.Add(7*24*time.Hour + 500*time.Millisecond)
	got, ok := latestTick(countingSchedule{e.sched, new(int)}, after, now)
	require.True(t, ok)
	require.Equal(t, now.Truncate(time.Second), got)

	calls := new(int)
	_, _ = latestTick(countingSchedule{e.sched, calls}, after, now)
	require.Less(t, *calls, 100)
}

type countingSchedule struct {
	s interface{ Next(time.Time) time.Time }
	n *int
}

func (c countingSchedule) Next(t time.Time) time.Time { *c.n++; return c.s.Next(t) }

func jobTemplate() queue.NewJob { return queue.NewJob{Kind: "test.job"} }
