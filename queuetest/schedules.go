package queuetest

import (
	"database/sql"
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// scheduleArea: queue.ScheduleStore, the state schedulers share.
var scheduleArea = area{"Schedule", []testCase{
	{"ListedByNameWithEveryField", testSchedulesListed},
	{"NewScheduleStartsAtNow", testScheduleNewStartsAtNow},
	{"SameDefinitionChangesNothing", testScheduleSameDefinition},
	{"NewDefinitionKeepsState", testScheduleNewDefinition},
	{"NewSpecOrZoneSkipsEarlierTicks", testScheduleNewSpec},
	{"TickFiresOnce", testScheduleTickFiresOnce},
	{"SkippedTickMovesCursorOnly", testScheduleSkippedTick},
	{"FireNeedsTickOrTrigger", testScheduleFireInvalid},
	{"FireAndJobCommitTogether", testScheduleFireWithJob},
	{"RacingSchedulersFireEachTickOnce", testScheduleFireRace},
	{"PausedTicksDoNotFire", testSchedulePaused},
	{"ResumeSkipsMissedTicks", testScheduleResume},
	{"TriggerServedOnce", testScheduleTrigger},
	{"UnknownNameIsNotFound", testScheduleUnknown},
	{"WritesFollowCallerTx", testScheduleWritesInTx},
}}

// scheduleStore returns the store as a ScheduleStore, skipping the case
// when the backend keeps no schedules.
func (e *env) scheduleStore() queue.ScheduleStore {
	ss, ok := e.store.(queue.ScheduleStore)
	if !ok {
		e.t.Skip("backend does not implement queue.ScheduleStore: schedules untested")
	}
	return ss
}

// hourly is a schedule definition for the cases.
var hourly = queue.ScheduleState{Name: "hourly", Spec: "0 * * * *", TimeZone: "UTC", Kind: "report", Queue: "reports", Misfire: "catch-up"}

// hour returns the n-th whole hour after t0.
func hour(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }

// saveSchedule stores def at now and returns the ScheduleStore.
func (e *env) saveSchedule(def queue.ScheduleState, now time.Time) queue.ScheduleStore {
	e.t.Helper()
	ss := e.scheduleStore()
	require.NoError(e.t, ss.SaveSchedule(e.ctx, nil, def, now))
	return ss
}

// schedule returns the stored schedule name.
func (e *env) schedule(name string) queue.ScheduleState {
	e.t.Helper()
	list, err := e.scheduleStore().Schedules(e.ctx)
	require.NoError(e.t, err)
	for _, st := range list {
		if st.Name == name {
			return st
		}
	}
	e.t.Fatalf("schedule %q is not stored", name)
	return queue.ScheduleState{}
}

// fire records f for the hourly schedule, with Now defaulting to the
// tick or trigger, and reports whether it fired.
func (e *env) fire(f queue.ScheduleFire) bool {
	e.t.Helper()
	if f.Name == "" {
		f.Name = hourly.Name
	}
	if f.Now.IsZero() {
		f.Now = f.Tick
		if f.Now.IsZero() {
			f.Now = f.Trigger
		}
	}
	ok, err := e.scheduleStore().FireSchedule(e.ctx, nil, f)
	require.NoError(e.t, err)
	return ok
}

// requireTime fails unless got and want are the same instant.
func (e *env) requireTime(want, got time.Time, what string) {
	e.t.Helper()
	require.True(e.t, want.Equal(got), "%s: want %s, got %s", what, want, got)
}

// Schedules lists every stored schedule ordered by name, each with its
// whole definition.
func testSchedulesListed(e *env) {
	ss := e.scheduleStore()
	list, err := ss.Schedules(e.ctx)
	require.NoError(e.t, err)
	require.Empty(e.t, list)
	berlin := queue.ScheduleState{Name: "b-nightly", Spec: "30 2 * * *", TimeZone: "Europe/Berlin", Kind: "stock.sync", Queue: "default", Misfire: "skip"}
	e.saveSchedule(berlin, t0)
	e.saveSchedule(hourly, t0)
	e.saveSchedule(queue.ScheduleState{Name: "a-first", Spec: "@daily", TimeZone: "UTC", Kind: "k", Queue: "default", Misfire: "catch-up"}, t0)
	list, err = ss.Schedules(e.ctx)
	require.NoError(e.t, err)
	var names []string
	for _, st := range list {
		names = append(names, st.Name)
	}
	require.Equal(e.t, []string{"a-first", "b-nightly", "hourly"}, names)
	got := list[1]
	got.LastTick, got.UpdatedAt = time.Time{}, time.Time{}
	require.Equal(e.t, berlin, got)
}

// A new schedule's cursor is now, so its first tick is the first after
// now; it has no run, no pause and no trigger request.
func testScheduleNewStartsAtNow(e *env) {
	e.saveSchedule(hourly, t0.Add(10*time.Minute))
	st := e.schedule("hourly")
	e.requireTime(t0.Add(10*time.Minute), st.LastTick, "LastTick")
	e.requireTime(t0.Add(10*time.Minute), st.UpdatedAt, "UpdatedAt")
	require.True(e.t, st.LastRun.IsZero())
	require.False(e.t, st.Paused)
	require.True(e.t, st.TriggerAt.IsZero())
	require.False(e.t, e.fire(queue.ScheduleFire{Tick: t0}), "a tick before the schedule existed")
	require.True(e.t, e.fire(queue.ScheduleFire{Tick: hour(1)}))
}

// Saving the same definition again (every scheduler does, at every
// start) changes nothing: not the state, not UpdatedAt.
func testScheduleSameDefinition(e *env) {
	e.saveSchedule(hourly, t0)
	require.True(e.t, e.fire(queue.ScheduleFire{Tick: hour(1)}))
	require.NoError(e.t, e.scheduleStore().TriggerSchedule(e.ctx, nil, "hourly", hour(1).Add(time.Minute)))
	before := e.schedule("hourly")
	e.saveSchedule(hourly, hour(5))
	require.Equal(e.t, before, e.schedule("hourly"))
}

// A changed kind, queue or misfire policy replaces the stored one and keeps
// the schedule's state: cursor, latest run, pause and trigger request.
func testScheduleNewDefinition(e *env) {
	ss := e.saveSchedule(hourly, t0)
	require.True(e.t, e.fire(queue.ScheduleFire{Tick: hour(1)}))
	require.NoError(e.t, ss.SetSchedulePaused(e.ctx, nil, "hourly", true, hour(1)))
	require.NoError(e.t, ss.TriggerSchedule(e.ctx, nil, "hourly", hour(2)))
	def := hourly
	def.Kind, def.Queue, def.Misfire = "report.v2", "maintenance", "skip"
	e.saveSchedule(def, hour(3))
	st := e.schedule("hourly")
	require.Equal(e.t, "report.v2", st.Kind)
	require.Equal(e.t, "maintenance", st.Queue)
	require.Equal(e.t, "skip", st.Misfire)
	e.requireTime(hour(1), st.LastTick, "LastTick")
	e.requireTime(hour(1), st.LastRun, "LastRun")
	e.requireTime(hour(2), st.TriggerAt, "TriggerAt")
	e.requireTime(hour(3), st.UpdatedAt, "UpdatedAt")
	require.True(e.t, st.Paused)
}

// A new spec or time zone also moves the cursor up to now: the new spec's
// ticks before now were never due and must not fire as missed ones. The
// latest run stays; a cursor already past now stays too.
func testScheduleNewSpec(e *env) {
	e.saveSchedule(hourly, t0)
	require.True(e.t, e.fire(queue.ScheduleFire{Tick: hour(1)}))
	def := hourly
	def.Spec = "30 * * * *"
	e.saveSchedule(def, hour(4))
	st := e.schedule("hourly")
	require.Equal(e.t, "30 * * * *", st.Spec)
	e.requireTime(hour(4), st.LastTick, "LastTick")
	e.requireTime(hour(1), st.LastRun, "LastRun")
	require.False(e.t, e.fire(queue.ScheduleFire{Tick: hour(3).Add(30 * time.Minute)}))

	require.True(e.t, e.fire(queue.ScheduleFire{Tick: hour(6)}))
	def.TimeZone = "Europe/Berlin"
	e.saveSchedule(def, hour(5))
	st = e.schedule("hourly")
	require.Equal(e.t, "Europe/Berlin", st.TimeZone)
	e.requireTime(hour(6), st.LastTick, "a cursor ahead of now stays")
}

// A tick fires once: a second fire of the same tick, or of an earlier one,
// reports false (the cursor never moves back), and a fire records the tick
// as the cursor and the latest run.
func testScheduleTickFiresOnce(e *env) {
	e.saveSchedule(hourly, t0)
	require.True(e.t, e.fire(queue.ScheduleFire{Tick: hour(2), Now: hour(2).Add(time.Second)}))
	st := e.schedule("hourly")
	e.requireTime(hour(2), st.LastTick, "LastTick")
	e.requireTime(hour(2), st.LastRun, "LastRun")
	e.requireTime(hour(2).Add(time.Second), st.UpdatedAt, "UpdatedAt")
	require.False(e.t, e.fire(queue.ScheduleFire{Tick: hour(2)}), "the same tick again")
	require.False(e.t, e.fire(queue.ScheduleFire{Tick: hour(1)}), "an earlier tick")
	require.True(e.t, e.fire(queue.ScheduleFire{Tick: hour(3)}))
}

// A tick skipped by the misfire policy moves the cursor and leaves the
// latest run as it was.
func testScheduleSkippedTick(e *env) {
	e.saveSchedule(hourly, t0)
	require.True(e.t, e.fire(queue.ScheduleFire{Tick: hour(1)}))
	require.True(e.t, e.fire(queue.ScheduleFire{Tick: hour(3), Skip: true}))
	st := e.schedule("hourly")
	e.requireTime(hour(3), st.LastTick, "LastTick")
	e.requireTime(hour(1), st.LastRun, "LastRun")
	require.False(e.t, e.fire(queue.ScheduleFire{Tick: hour(2)}), "a skipped tick's predecessors are passed too")
}

// A fire names exactly one of a tick and a trigger (Skip only with a tick):
// anything else is an ErrInvalidArgument and changes nothing. A fire of an
// unknown schedule fires nothing.
func testScheduleFireInvalid(e *env) {
	ss := e.saveSchedule(hourly, t0)
	require.NoError(e.t, ss.TriggerSchedule(e.ctx, nil, "hourly", hour(1)))
	before := e.schedule("hourly")
	for _, f := range []queue.ScheduleFire{
		{Name: "hourly", Now: hour(2)},
		{Name: "hourly", Tick: hour(2), Trigger: hour(1), Now: hour(2)},
		{Name: "hourly", Trigger: hour(1), Skip: true, Now: hour(2)},
	} {
		ok, err := ss.FireSchedule(e.ctx, nil, f)
		require.ErrorIs(e.t, err, queue.ErrInvalidArgument, "%+v", f)
		require.False(e.t, ok)
	}
	require.Equal(e.t, before, e.schedule("hourly"))
	ok, err := ss.FireSchedule(e.ctx, nil, queue.ScheduleFire{Name: "ghost", Tick: hour(2), Now: hour(2)})
	if err != nil {
		require.ErrorIs(e.t, err, queue.ErrScheduleNotFound)
	}
	require.False(e.t, ok, "an unknown schedule fires nothing")
}

// tickKey is the unique key a scheduler gives a tick's job (package
// schedule: the name and the tick in UTC).
func tickKey(name string, tick time.Time) string {
	return "spool.schedule:" + name + "@" + tick.UTC().Format(time.RFC3339Nano)
}

// The scheduler's pattern: in one transaction on DB(), record the fire,
// then enqueue the tick's job keyed by the tick. A failed enqueue rolls
// the fire back with it; a fired tick's job carries the tick's key; and
// the tick never fires again, also after its job finished and freed the
// key.
func testScheduleFireWithJob(e *env) {
	ss := e.saveSchedule(hourly, t0)
	if ss.DB() == nil {
		e.t.Skip("ScheduleStore.DB is nil")
	}
	fireWithJob := func(tick time.Time, job queue.NewJob) (bool, int64, error) {
		e.t.Helper()
		tx, err := ss.DB().BeginTx(e.ctx, nil)
		require.NoError(e.t, err)
		defer tx.Rollback()
		ok, err := ss.FireSchedule(e.ctx, tx, queue.ScheduleFire{Name: "hourly", Tick: tick, Now: tick})
		require.NoError(e.t, err)
		if !ok {
			return false, 0, nil
		}
		res, err := e.q.EnqueueTx(e.ctx, tx, job)
		if err != nil {
			return false, 0, err
		}
		require.False(e.t, res.Duplicate)
		require.NoError(e.t, tx.Commit())
		return true, res.ID, nil
	}
	tick := hour(1)
	job := queue.NewJob{Kind: "report", Queue: "reports", UniqueKey: tickKey("hourly", tick)}

	_, _, err := fireWithJob(tick, queue.NewJob{Kind: "not a kind"})
	require.ErrorIs(e.t, err, queue.ErrInvalidJob)
	e.requireTime(t0, e.schedule("hourly").LastTick, "the failed enqueue rolled the fire back")

	ok, id, err := fireWithJob(tick, job)
	require.NoError(e.t, err)
	require.True(e.t, ok)
	e.requireTime(tick, e.schedule("hourly").LastTick, "LastTick")
	got := e.get(id)
	require.Equal(e.t, "spool.schedule:hourly@2026-03-01T10:00:00Z", got.UniqueKey)
	require.Equal(e.t, queue.StatePending, got.State)
	dup, err := e.q.Enqueue(e.ctx, job)
	require.NoError(e.t, err)
	require.Equal(e.t, queue.EnqueueResult{ID: id, Duplicate: true}, dup, "the tick's key is held while its job lives")

	e.complete(e.leaseOne("reports"))
	ok, _, err = fireWithJob(tick, job)
	require.NoError(e.t, err)
	require.False(e.t, ok, "a fired tick does not fire again once its job is done")
	list, err := e.store.List(e.ctx, queue.ListFilter{})
	require.NoError(e.t, err)
	require.Empty(e.t, list)
}

// Schedulers racing on one store to fire the same ticks, each in its own
// transaction with the tick's job: every tick fires exactly once and
// enqueues exactly one job.
func testScheduleFireRace(e *env) {
	ss := e.saveSchedule(hourly, t0)
	if ss.DB() == nil {
		e.t.Skip("ScheduleStore.DB is nil")
	}
	const ticks, schedulers = 20, 4
	wins := make([][]int, schedulers)
	errs := make([]error, schedulers)
	var wg sync.WaitGroup
	for g := range schedulers {
		wg.Go(func() {
			for i := 1; i <= ticks; i++ {
				won, err := fireRacing(e, ss, hour(i))
				if err != nil {
					errs[g] = err
					return
				}
				if won {
					wins[g] = append(wins[g], i)
				}
			}
		})
	}
	wg.Wait()
	seen := map[int]int{}
	for g := range schedulers {
		require.NoError(e.t, errs[g])
		for _, i := range wins[g] {
			seen[i]++
		}
	}
	require.Len(e.t, seen, ticks)
	for i, n := range seen {
		require.Equal(e.t, 1, n, "tick %d", i)
	}
	list, err := e.store.List(e.ctx, queue.ListFilter{Limit: 1000})
	require.NoError(e.t, err)
	require.Len(e.t, list, ticks, "one job per tick")
}

// fireRacing is one racing scheduler's fire of tick, with its job (no
// unique key: only the fire guards against doubles).
func fireRacing(e *env, ss queue.ScheduleStore, tick time.Time) (bool, error) {
	tx, err := ss.DB().BeginTx(e.ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	ok, err := ss.FireSchedule(e.ctx, tx, queue.ScheduleFire{Name: "hourly", Tick: tick, Now: tick})
	if err != nil || !ok {
		return false, err
	}
	if _, err := e.q.EnqueueTx(e.ctx, tx, queue.NewJob{Kind: "report", Queue: "reports"}); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// A paused schedule fires no tick, and the pause shows in Schedules.
func testSchedulePaused(e *env) {
	ss := e.saveSchedule(hourly, t0)
	require.NoError(e.t, ss.SetSchedulePaused(e.ctx, nil, "hourly", true, hour(1)))
	st := e.schedule("hourly")
	require.True(e.t, st.Paused)
	e.requireTime(hour(1), st.UpdatedAt, "UpdatedAt")
	require.False(e.t, e.fire(queue.ScheduleFire{Tick: hour(2)}))
	require.False(e.t, e.fire(queue.ScheduleFire{Tick: hour(3), Skip: true}), "nor skips one")
	e.requireTime(t0, e.schedule("hourly").LastTick, "LastTick")
}

// Resuming moves the cursor up to now: the ticks that passed while the
// schedule was paused are skipped, not caught up. A cursor already past
// now stays where it is.
func testScheduleResume(e *env) {
	ss := e.saveSchedule(hourly, t0)
	require.NoError(e.t, ss.SetSchedulePaused(e.ctx, nil, "hourly", true, hour(1)))
	resumed := hour(4).Add(10 * time.Minute)
	require.NoError(e.t, ss.SetSchedulePaused(e.ctx, nil, "hourly", false, resumed))
	st := e.schedule("hourly")
	require.False(e.t, st.Paused)
	e.requireTime(resumed, st.LastTick, "LastTick")
	for i := 1; i <= 4; i++ {
		require.False(e.t, e.fire(queue.ScheduleFire{Tick: hour(i)}), "tick %d passed while paused", i)
	}
	require.True(e.t, e.fire(queue.ScheduleFire{Tick: hour(5)}))

	require.NoError(e.t, ss.SetSchedulePaused(e.ctx, nil, "hourly", true, hour(5)))
	require.NoError(e.t, ss.SetSchedulePaused(e.ctx, nil, "hourly", false, hour(2)))
	e.requireTime(hour(5), e.schedule("hourly").LastTick, "the cursor never moves back")
}

// A trigger request sets TriggerAt unless one is pending (two requests
// before a scheduler serves them are one run). A fire serves only the
// request it names, once; it records the request as the latest run and
// leaves the cursor alone. Triggers fire while the schedule is paused.
func testScheduleTrigger(e *env) {
	ss := e.saveSchedule(hourly, t0)
	require.NoError(e.t, ss.TriggerSchedule(e.ctx, nil, "hourly", hour(1)))
	require.NoError(e.t, ss.TriggerSchedule(e.ctx, nil, "hourly", hour(1).Add(time.Minute)))
	e.requireTime(hour(1), e.schedule("hourly").TriggerAt, "the earlier request is kept")
	require.False(e.t, e.fire(queue.ScheduleFire{Trigger: hour(1).Add(time.Minute)}), "not the pending request")
	require.True(e.t, e.fire(queue.ScheduleFire{Trigger: hour(1)}))
	require.False(e.t, e.fire(queue.ScheduleFire{Trigger: hour(1)}), "served once")
	st := e.schedule("hourly")
	require.True(e.t, st.TriggerAt.IsZero())
	e.requireTime(hour(1), st.LastRun, "LastRun")
	e.requireTime(t0, st.LastTick, "a trigger leaves the cursor alone")

	require.NoError(e.t, ss.SetSchedulePaused(e.ctx, nil, "hourly", true, hour(2)))
	require.NoError(e.t, ss.TriggerSchedule(e.ctx, nil, "hourly", hour(2)))
	require.True(e.t, e.fire(queue.ScheduleFire{Trigger: hour(2)}), "a trigger fires while paused")
}

// Pausing, resuming and triggering an unknown schedule fail with
// ErrScheduleNotFound and store nothing.
func testScheduleUnknown(e *env) {
	ss := e.scheduleStore()
	for name, err := range map[string]error{
		"pause":   ss.SetSchedulePaused(e.ctx, nil, "ghost", true, t0),
		"resume":  ss.SetSchedulePaused(e.ctx, nil, "ghost", false, t0),
		"trigger": ss.TriggerSchedule(e.ctx, nil, "ghost", t0),
	} {
		require.ErrorIs(e.t, err, queue.ErrScheduleNotFound, name)
	}
	list, err := ss.Schedules(e.ctx)
	require.NoError(e.t, err)
	require.Empty(e.t, list)
}

// Schedule writes in a caller's transaction follow it.
func testScheduleWritesInTx(e *env) {
	ss := e.scheduleStore()
	if ss.DB() == nil {
		e.t.Skip("ScheduleStore.DB is nil")
	}
	inTx := func(commit bool, write func(tx *sql.Tx) error) {
		e.t.Helper()
		tx, err := ss.DB().BeginTx(e.ctx, nil)
		require.NoError(e.t, err)
		require.NoError(e.t, write(tx))
		if commit {
			require.NoError(e.t, tx.Commit())
		} else {
			require.NoError(e.t, tx.Rollback())
		}
	}
	save := func(tx *sql.Tx) error { return ss.SaveSchedule(e.ctx, tx, hourly, t0) }
	inTx(false, save)
	list, err := ss.Schedules(e.ctx)
	require.NoError(e.t, err)
	require.Empty(e.t, list, "a rolled-back save stores nothing")
	inTx(true, save)
	e.schedule("hourly")

	writes := []func(tx *sql.Tx) error{
		func(tx *sql.Tx) error { return ss.TriggerSchedule(e.ctx, tx, "hourly", hour(1)) },
		func(tx *sql.Tx) error { return ss.SetSchedulePaused(e.ctx, tx, "hourly", true, hour(1)) },
		func(tx *sql.Tx) error {
			ok, err := ss.FireSchedule(e.ctx, tx, queue.ScheduleFire{Name: "hourly", Tick: hour(1), Now: hour(1)})
			require.True(e.t, ok)
			return err
		},
	}
	for i, w := range writes {
		before := e.schedule("hourly")
		inTx(false, w)
		require.Equal(e.t, before, e.schedule("hourly"), "write %d rolled back", i)
	}
	inTx(true, writes[0])
	e.requireTime(hour(1), e.schedule("hourly").TriggerAt, "a committed trigger")
	inTx(true, writes[2])
	e.requireTime(hour(1), e.schedule("hourly").LastTick, "a committed fire")
	inTx(true, writes[1])
	require.True(e.t, e.schedule("hourly").Paused, "a committed pause")
}
