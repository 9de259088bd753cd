package schedule_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
	"github.com/spooljobs/spool/sqlite"
)

// clock is a fake clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// node is one "process": a store on the shared file, its queue and a
// scheduler, all on the node's clock.
type node struct {
	store *sqlite.Store
	q     *queue.Queue
	s     *schedule.Scheduler
	clock *clock
}

// newNode opens path (created if needed) with a scheduler on clk. The
// store is closed when the test ends, unless the test closed it.
func newNode(t *testing.T, path string, clk *clock, opts schedule.Options) *node {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	q, err := queue.New(store, queue.Options{Now: clk.Now})
	require.NoError(t, err)
	s, err := schedule.New(q, opts)
	require.NoError(t, err)
	return &node{store: store, q: q, s: s, clock: clk}
}

// newAppNode is newNode on a store made with sqlite.New over the app's own
// *sql.DB, opened without spool's DSN (no _txlock=immediate).
func newAppNode(t *testing.T, path string, clk *clock) *node {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	store, err := sqlite.New(ctx, db, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	q, err := queue.New(store, queue.Options{Now: clk.Now})
	require.NoError(t, err)
	s, err := schedule.New(q, schedule.Options{})
	require.NoError(t, err)
	return &node{store: store, q: q, s: s, clock: clk}
}

func tempDB(t *testing.T) string { return filepath.Join(t.TempDir(), "spool.db") }

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// run sets the node's clock to at and runs one round, which must succeed.
func (n *node) run(t *testing.T, at time.Time) time.Time {
	t.Helper()
	n.clock.Set(at)
	next, err := n.s.RunOnce(context.Background())
	require.NoError(t, err)
	return next
}

// ticks returns the tick metadata of the jobs of kind, oldest job first.
func ticks(t *testing.T, q *queue.Queue, kind string) []string {
	t.Helper()
	jobs, err := q.Inspector().List(context.Background(), queue.ListFilter{Kind: kind, Limit: 1000})
	require.NoError(t, err)
	var out []string
	for _, j := range slices.Backward(jobs) {
		out = append(out, j.Metadata[schedule.MetadataTick])
	}
	return out
}

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

// collect runs n's scheduler every step from from to to and returns the
// ticks of kind's jobs.
func collect(t *testing.T, n *node, kind string, from, to time.Time, step time.Duration) []string {
	t.Helper()
	for at := from; !at.After(to); at = at.Add(step) {
		n.run(t, at)
	}
	return ticks(t, n.q, kind)
}

// reference lists the ticks robfig/cron yields for spec after from up to
// to, formatted as the scheduler's metadata (in the zone loc).
func reference(t *testing.T, spec string, loc *time.Location, from, to time.Time) []string {
	t.Helper()
	s, err := cron.ParseStandard(spec)
	require.NoError(t, err)
	var out []string
	for at := s.Next(from); !at.After(to); at = s.Next(at) {
		out = append(out, at.In(loc).Format(time.RFC3339))
	}
	return out
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

func TestNewAndOptionErrors(t *testing.T) {
	t.Parallel()
	_, err := schedule.New(nil, schedule.Options{})
	require.ErrorContains(t, err, "queue is nil")

	n := newNode(t, tempDB(t), newClock(time.Now()), schedule.Options{})
	_, err = schedule.New(n.q, schedule.Options{PollInterval: -time.Second})
	require.ErrorContains(t, err, "Options.PollInterval -1s is negative")
	_, err = schedule.New(n.q, schedule.Options{MisfireGrace: -time.Second})
	require.ErrorContains(t, err, "Options.MisfireGrace -1s is negative")

	// A store without schedule support.
	q, err := queue.New(plainStore{n.store}, queue.Options{})
	require.NoError(t, err)
	_, err = schedule.New(q, schedule.Options{})
	require.ErrorContains(t, err, "does not implement queue.ScheduleStore")
}

// plainStore hides every method but queue.Store's.
type plainStore struct{ queue.Store }

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

// Start runs rounds in the background (a trigger wakes it at once) and
// Stop ends them; the loop needs no fake clock.
func TestStartStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, tempDB(t), sqlite.Options{})
	require.NoError(t, err)
	defer store.Close()
	q, err := queue.New(store, queue.Options{})
	require.NoError(t, err)
	s, err := schedule.New(q, schedule.Options{PollInterval: time.Hour})
	require.NoError(t, err)
	require.NoError(t, s.Add(schedule.Entry{Name: "yearly", Spec: "@yearly", Job: queue.NewJob{Kind: "yearly"}}))

	woken, unsubscribe := store.Wait(queue.DefaultQueue)
	defer unsubscribe()
	require.NoError(t, s.Start(ctx))
	require.ErrorContains(t, s.Start(ctx), "already started")
	require.NoError(t, s.Trigger(ctx, "yearly"))
	select {
	case <-woken:
	case <-time.After(30 * time.Second):
		t.Fatal("the trigger was not served")
	}
	require.NoError(t, s.Stop(ctx))
	require.NoError(t, s.Stop(ctx), "Stop twice is fine")
	jobs, err := q.Inspector().List(ctx, queue.ListFilter{Kind: "yearly"})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
}

// A schedule whose job the queue refuses at its tick (here its queue is
// full, which Add cannot know) fails with an error naming it and its tick,
// keeps its tick for the next round, and does not stop the others.
func TestRunOnceErrorNamesScheduleAndRunsTheOthers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, tempDB(t), sqlite.Options{})
	require.NoError(t, err)
	defer store.Close()
	clk := newClock(utc("2026-01-01T00:00:00Z"))
	q, err := queue.New(store, queue.Options{Now: clk.Now})
	require.NoError(t, err)
	require.NoError(t, q.Inspector().SetQueueSettings(ctx, "full", queue.QueueSettings{MaxPending: 1}))
	_, err = q.Enqueue(ctx, queue.NewJob{Kind: "filler", Queue: "full", Delay: time.Hour * 24})
	require.NoError(t, err)
	s, err := schedule.New(q, schedule.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Add(schedule.Entry{Name: "big", Spec: "@hourly", Job: queue.NewJob{Kind: "big", Queue: "full"}}))
	require.NoError(t, s.Add(schedule.Entry{Name: "small", Spec: "@hourly", Job: queue.NewJob{Kind: "small"}}))
	_, err = s.RunOnce(ctx)
	require.NoError(t, err)

	clk.Set(utc("2026-01-01T01:00:00Z"))
	_, err = s.RunOnce(ctx)
	require.ErrorIs(t, err, queue.ErrQueueFull)
	require.ErrorContains(t, err, `schedule "big": tick 2026-01-01T01:00:00Z: queue: queue "full" is full`)
	require.Equal(t, []string{"2026-01-01T01:00:00Z"}, ticks(t, q, "small"))
	list, err := s.List(ctx)
	require.NoError(t, err)
	require.Equal(t, "big", list[0].Name)
	require.True(t, list[0].Prev.IsZero(), "the failed tick was not recorded")
	require.Equal(t, utc("2026-01-01T02:00:00Z"), list[0].Next.UTC())
}
