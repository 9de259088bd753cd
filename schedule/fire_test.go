package schedule_test

// Each tick fires once: across schedulers, restarts, misfires, DST and spec changes.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
	"github.com/stretchr/testify/require"
)

func TestFiresEachTickOnceWithKeyAndMetadata(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newNode(t, tempDB(t), newClock(time.Time{}), schedule.Options{})
	require.NoError(t, n.s.Add(schedule.Entry{
		Name: "feed.export.hourly",
		Spec: "0 * * * *",
		Job: queue.NewJob{Kind: "feed.export", Queue: "exports", Priority: 5, Args: map[string]string{"format": "csv"},
			Metadata: map[string]string{"tenant": "shop-1"}},
	}))

	next := n.run(t, utc("2026-01-01T00:10:00Z"))
	require.Equal(t, utc("2026-01-01T01:00:00Z"), next.UTC(), "RunOnce returns the next tick")
	require.Empty(t, ticks(t, n.q, "feed.export"), "the first tick is the first after registration")

	for at := utc("2026-01-01T00:15:00Z"); !at.After(utc("2026-01-01T05:00:00Z")); at = at.Add(5 * time.Minute) {
		n.run(t, at)
		n.run(t, at) // a second round at the same time changes nothing
	}
	require.Equal(t, []string{
		"2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z", "2026-01-01T03:00:00Z", "2026-01-01T04:00:00Z", "2026-01-01T05:00:00Z",
	}, ticks(t, n.q, "feed.export"))

	jobs, err := n.q.Inspector().List(ctx, queue.ListFilter{Kind: "feed.export", Limit: 1})
	require.NoError(t, err)
	j := jobs[0]
	require.Equal(t, "exports", j.Queue)
	require.Equal(t, 5, j.Priority)
	require.JSONEq(t, `{"format":"csv"}`, string(j.Payload))
	require.Equal(t, "spool.schedule:feed.export.hourly@2026-01-01T05:00:00Z", j.UniqueKey)
	require.Equal(t, map[string]string{
		"tenant": "shop-1", schedule.MetadataSchedule: "feed.export.hourly", schedule.MetadataTick: "2026-01-01T05:00:00Z",
	}, j.Metadata)
	require.Equal(t, queue.StatePending, j.State)
}

// Three schedulers, each with its own store on one file and its own clock,
// run concurrently for many ticks while their jobs are completed (deleted)
// as they appear, so that the idempotency key alone could not stop a
// second fire: every tick is enqueued exactly once.
func TestThreeSchedulersOnOneFileFireEachTickOnce(t *testing.T) {
	t.Parallel()
	path := tempDB(t)
	start := utc("2026-05-04T10:00:00Z")
	const seconds = 60
	entries := []schedule.Entry{
		{Name: "every.second", Spec: "* * * * * *", Job: queue.NewJob{Kind: "tick.second"}},
		{Name: "every.7s", Spec: "@every 7s", Job: queue.NewJob{Kind: "tick.seven"}},
		{Name: "every.5s.berlin", Spec: "CRON_TZ=Europe/Berlin */5 * * * * *", Job: queue.NewJob{Kind: "tick.five"}},
	}
	nodes := make([]*node, 3)
	for i := range nodes {
		if i == 2 {
			// The third shares an app's pool whose transactions begin
			// DEFERRED (sqlite.New on a plain DSN).
			nodes[i] = newAppNode(t, path, newClock(start))
		} else {
			nodes[i] = newNode(t, path, newClock(start), schedule.Options{})
		}
		for _, e := range entries {
			require.NoError(t, nodes[i].s.Add(e))
		}
	}

	var (
		mu    sync.Mutex
		fired = map[string][]string{} // kind → ticks, in completion order
	)
	complete := func(n *node) error {
		ctx := context.Background()
		jobs, err := n.q.Inspector().List(ctx, queue.ListFilter{Limit: 1000})
		if err != nil {
			return err
		}
		for _, j := range jobs {
			err := n.q.Inspector().Delete(ctx, j.ID)
			if errors.Is(err, queue.ErrNotFound) {
				continue // another node completed it
			}
			if err != nil {
				return err
			}
			mu.Lock()
			fired[j.Kind] = append(fired[j.Kind], j.Metadata[schedule.MetadataTick])
			mu.Unlock()
		}
		return nil
	}

	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Go(func() {
			for s := 0; s <= seconds; s++ {
				n.clock.Set(start.Add(time.Duration(s) * time.Second))
				if _, err := n.s.RunOnce(context.Background()); err != nil {
					errs[i] = fmt.Errorf("node %d at +%ds: %w", i, s, err)
					return
				}
				if err := complete(n); err != nil {
					errs[i] = fmt.Errorf("node %d completing: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, complete(nodes[0]))

	want := func(every int) []string {
		var out []string
		for s := every; s <= seconds; s += every {
			out = append(out, start.Add(time.Duration(s)*time.Second).Format(time.RFC3339))
		}
		return out
	}
	berlin := func(ts []string) []string {
		loc, _ := time.LoadLocation("Europe/Berlin")
		out := make([]string, len(ts))
		for i, s := range ts {
			out[i] = utc(s).In(loc).Format(time.RFC3339)
		}
		return out
	}
	for kind, w := range map[string][]string{
		"tick.second": want(1), "tick.seven": want(7), "tick.five": berlin(want(5)),
	} {
		got := slices.Clone(fired[kind])
		slices.Sort(got)
		require.Equal(t, w, got, "kind %s: every tick once", kind)
	}
	for _, n := range nodes {
		require.Empty(t, ticks(t, n.q, ""), "nothing left over")
	}
}

// A restart neither repeats a tick (even one whose job completed and was
// deleted) nor loses one; ticks missed while down are caught up once.
func TestRestartNeitherRepeatsNorLosesTicks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := tempDB(t)
	e := schedule.Entry{Name: "stock.sync", Spec: "0 * * * *", Job: queue.NewJob{Kind: "stock.sync"}}
	completeAll := func(n *node) []string {
		got := ticks(t, n.q, "stock.sync")
		jobs, err := n.q.Inspector().List(ctx, queue.ListFilter{Kind: "stock.sync", Limit: 1000})
		require.NoError(t, err)
		for _, j := range jobs {
			require.NoError(t, n.q.Inspector().Delete(ctx, j.ID))
		}
		return got
	}

	// First process: registered at 00:10, runs until 02:30.
	a := newNode(t, path, newClock(time.Time{}), schedule.Options{})
	require.NoError(t, a.s.Add(e))
	for at := utc("2026-02-01T00:10:00Z"); !at.After(utc("2026-02-01T02:30:00Z")); at = at.Add(10 * time.Minute) {
		a.run(t, at)
	}
	require.Equal(t, []string{"2026-02-01T01:00:00Z", "2026-02-01T02:00:00Z"}, completeAll(a))
	require.NoError(t, a.store.Close())

	// Restart at 02:40: the 02:00 tick, whose job is gone, is not repeated;
	// 03:00 fires.
	b := newNode(t, path, newClock(time.Time{}), schedule.Options{})
	require.NoError(t, b.s.Add(e))
	b.run(t, utc("2026-02-01T02:40:00Z"))
	require.Empty(t, ticks(t, b.q, "stock.sync"))
	b.run(t, utc("2026-02-01T03:00:00Z"))
	require.Equal(t, []string{"2026-02-01T03:00:00Z"}, completeAll(b))
	b.run(t, utc("2026-02-01T03:30:00Z"))
	require.NoError(t, b.store.Close())

	// Down from 03:30 to 05:20: 04:00 and 05:00 are missed; catch-up
	// enqueues one job, for 05:00, and the schedule goes on.
	c := newNode(t, path, newClock(time.Time{}), schedule.Options{})
	require.NoError(t, c.s.Add(e))
	c.run(t, utc("2026-02-01T05:20:00Z"))
	c.run(t, utc("2026-02-01T05:21:00Z"))
	require.Equal(t, []string{"2026-02-01T05:00:00Z"}, completeAll(c))
	c.run(t, utc("2026-02-01T06:00:00Z"))
	require.Equal(t, []string{"2026-02-01T06:00:00Z"}, completeAll(c))

	list, err := c.s.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, utc("2026-02-01T06:00:00Z"), list[0].Prev.UTC())
	require.Equal(t, utc("2026-02-01T07:00:00Z"), list[0].Next.UTC())
}

func TestMisfireSkipVersusCatchUp(t *testing.T) {
	t.Parallel()
	n := newNode(t, tempDB(t), newClock(time.Time{}), schedule.Options{MisfireGrace: 2 * time.Minute})
	require.NoError(t, n.s.Add(schedule.Entry{Name: "catch-up", Spec: "@hourly", Job: queue.NewJob{Kind: "catch-up"}}))
	require.NoError(t, n.s.Add(schedule.Entry{Name: "skip", Spec: "@hourly", Misfire: schedule.MisfireSkip, Job: queue.NewJob{Kind: "skip"}}))
	n.run(t, utc("2026-07-01T00:10:00Z"))

	// No scheduler ran from 00:10 to 05:20: 01:00 ... 05:00 were missed.
	n.run(t, utc("2026-07-01T05:20:00Z"))
	require.Equal(t, []string{"2026-07-01T05:00:00Z"}, ticks(t, n.q, "catch-up"), "one job for all the missed ticks")
	require.Empty(t, ticks(t, n.q, "skip"))

	// Both go on with the next tick, found on time.
	n.run(t, utc("2026-07-01T06:00:30Z"))
	require.Equal(t, []string{"2026-07-01T05:00:00Z", "2026-07-01T06:00:00Z"}, ticks(t, n.q, "catch-up"))
	require.Equal(t, []string{"2026-07-01T06:00:00Z"}, ticks(t, n.q, "skip"))

	// Down from 06:00 to 09:01, within the grace of the 09:00 tick: skip
	// drops 07:00 and 08:00 and enqueues 09:00.
	n.run(t, utc("2026-07-01T09:01:59Z"))
	require.Equal(t, []string{"2026-07-01T06:00:00Z", "2026-07-01T09:00:00Z"}, ticks(t, n.q, "skip"))
	require.Equal(t, []string{"2026-07-01T05:00:00Z", "2026-07-01T06:00:00Z", "2026-07-01T09:00:00Z"}, ticks(t, n.q, "catch-up"))
}

// On the spring-forward day a daily 02:30 in Europe/Berlin does not fire
// (02:30 does not exist), and on the fall-back day it fires twice (02:30
// summer time, then 02:30 winter time), as robfig/cron documents; an
// hourly schedule has 23 and 25 ticks on those days.
func TestDaylightSavingTransitions(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	step := 15 * time.Minute
	cases := []struct {
		name     string
		from, to time.Time
		daily    []string
		hourlyOn string // the local date whose hourly ticks are counted
		hours    int
	}{{
		name: "spring forward", from: utc("2026-03-27T00:00:00Z"), to: utc("2026-03-31T00:00:00Z"),
		daily:    []string{"2026-03-27T02:30:00+01:00", "2026-03-28T02:30:00+01:00", "2026-03-30T02:30:00+02:00"},
		hourlyOn: "2026-03-29", hours: 23,
	}, {
		name: "fall back", from: utc("2026-10-23T00:00:00Z"), to: utc("2026-10-27T00:00:00Z"),
		daily: []string{"2026-10-23T02:30:00+02:00", "2026-10-24T02:30:00+02:00",
			"2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "2026-10-26T02:30:00+01:00"},
		hourlyOn: "2026-10-25", hours: 25,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			n := newNode(t, tempDB(t), newClock(time.Time{}), schedule.Options{})
			// The zone as an option, and as a spec prefix.
			require.NoError(t, n.s.Add(schedule.Entry{Name: "daily", Spec: "30 2 * * *", TimeZone: "Europe/Berlin",
				Job: queue.NewJob{Kind: "daily"}}))
			require.NoError(t, n.s.Add(schedule.Entry{Name: "hourly", Spec: "CRON_TZ=Europe/Berlin 0 * * * *",
				Job: queue.NewJob{Kind: "hourly"}}))
			n.run(t, c.from)
			require.Equal(t, c.daily, collect(t, n, "daily", c.from.Add(step), c.to, step))
			require.Equal(t, reference(t, "CRON_TZ=Europe/Berlin 30 2 * * *", berlin, c.from, c.to), ticks(t, n.q, "daily"))

			hourly := ticks(t, n.q, "hourly")
			require.Equal(t, reference(t, "CRON_TZ=Europe/Berlin 0 * * * *", berlin, c.from, c.to), hourly)
			on := 0
			for _, s := range hourly {
				if utc(s).In(berlin).Format(time.DateOnly) == c.hourlyOn {
					on++
				}
			}
			require.Equal(t, c.hours, on)
		})
	}
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
