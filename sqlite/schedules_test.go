package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// openScheduleStore opens a store on path and closes it when the test ends.
func openScheduleStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func scheduleState(t *testing.T, s *sqlite.Store, name string) queue.ScheduleState {
	t.Helper()
	list, err := s.Schedules(context.Background())
	require.NoError(t, err)
	for _, st := range list {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("schedule %q not stored", name)
	return queue.ScheduleState{}
}

var schedT0 = time.Date(2026, 3, 1, 12, 0, 0, 123000, time.UTC)

func TestSaveScheduleCreatesOnceAndKeepsState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openScheduleStore(t, filepath.Join(t.TempDir(), "spool.db"))
	def := queue.ScheduleState{Name: "nightly", Spec: "30 2 * * *", TimeZone: "Europe/Berlin", Kind: "stock.sync",
		Queue: "default", Misfire: "catch-up"}
	require.NoError(t, s.SaveSchedule(ctx, nil, def, schedT0))
	st := scheduleState(t, s, "nightly")
	require.True(t, st.LastTick.Equal(schedT0), "a new schedule's cursor is now")
	require.True(t, st.UpdatedAt.Equal(schedT0))
	require.True(t, st.LastRun.IsZero())
	require.False(t, st.Paused)
	require.True(t, st.TriggerAt.IsZero())

	tick := schedT0.Add(time.Hour)
	fired, err := s.FireSchedule(ctx, nil, queue.ScheduleFire{Name: "nightly", Tick: tick, Now: tick})
	require.NoError(t, err)
	require.True(t, fired)

	// The same definition again changes nothing, not even UpdatedAt.
	require.NoError(t, s.SaveSchedule(ctx, nil, def, schedT0.Add(2*time.Hour)))
	require.Equal(t, scheduleState(t, s, "nightly"), queue.ScheduleState{Name: "nightly", Spec: "30 2 * * *",
		TimeZone: "Europe/Berlin", Kind: "stock.sync", Queue: "default", Misfire: "catch-up",
		LastTick: time.UnixMicro(tick.UnixMicro()), LastRun: time.UnixMicro(tick.UnixMicro()),
		UpdatedAt: time.UnixMicro(tick.UnixMicro())})

	// A new job or misfire policy replaces the old and keeps the state.
	def.Queue, def.Misfire = "maintenance", "skip"
	later := schedT0.Add(3 * time.Hour)
	require.NoError(t, s.SaveSchedule(ctx, nil, def, later))
	st = scheduleState(t, s, "nightly")
	require.Equal(t, "maintenance", st.Queue)
	require.Equal(t, "skip", st.Misfire)
	require.True(t, st.LastTick.Equal(tick))
	require.True(t, st.LastRun.Equal(tick))
	require.True(t, st.UpdatedAt.Equal(later.Truncate(time.Microsecond)))

	// A new spec (or zone) also moves the cursor up to now: the new spec's
	// earlier ticks were never due. The latest run stays.
	def.Spec = "0 3 * * *"
	latest := schedT0.Add(4 * time.Hour)
	require.NoError(t, s.SaveSchedule(ctx, nil, def, latest))
	st = scheduleState(t, s, "nightly")
	require.Equal(t, "0 3 * * *", st.Spec)
	require.True(t, st.LastTick.Equal(latest.Truncate(time.Microsecond)))
	require.True(t, st.LastRun.Equal(tick))

	require.ErrorIs(t, s.SaveSchedule(ctx, nil, queue.ScheduleState{}, schedT0), queue.ErrInvalidArgument)
}

func TestFireScheduleGuards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openScheduleStore(t, filepath.Join(t.TempDir(), "spool.db"))
	require.NoError(t, s.SaveSchedule(ctx, nil, queue.ScheduleState{Name: "hourly", Spec: "@hourly", TimeZone: "UTC",
		Kind: "k", Queue: "default", Misfire: "catch-up"}, schedT0))
	fire := func(f queue.ScheduleFire) bool {
		t.Helper()
		f.Name = "hourly"
		if f.Now.IsZero() {
			f.Now = schedT0.Add(10 * time.Hour)
		}
		ok, err := s.FireSchedule(ctx, nil, f)
		require.NoError(t, err)
		return ok
	}
	h := func(n int) time.Time { return schedT0.Truncate(time.Hour).Add(time.Duration(n) * time.Hour) }

	require.True(t, fire(queue.ScheduleFire{Tick: h(1)}))
	require.False(t, fire(queue.ScheduleFire{Tick: h(1)}), "a tick fires once")
	require.False(t, fire(queue.ScheduleFire{Tick: h(0)}), "the cursor never moves back")
	require.True(t, fire(queue.ScheduleFire{Tick: h(3), Skip: true}), "a skipped tick moves the cursor only")
	st := scheduleState(t, s, "hourly")
	require.True(t, st.LastTick.Equal(h(3)))
	require.True(t, st.LastRun.Equal(h(1)))

	// Paused: no tick fires; resuming moves the cursor up to now.
	require.NoError(t, s.SetSchedulePaused(ctx, nil, "hourly", true, h(4)))
	require.True(t, scheduleState(t, s, "hourly").Paused)
	require.False(t, fire(queue.ScheduleFire{Tick: h(5)}))
	resumed := h(6).Add(10 * time.Minute)
	require.NoError(t, s.SetSchedulePaused(ctx, nil, "hourly", false, resumed))
	st = scheduleState(t, s, "hourly")
	require.False(t, st.Paused)
	require.True(t, st.LastTick.Equal(resumed), "the ticks that passed while paused are skipped")
	require.False(t, fire(queue.ScheduleFire{Tick: h(6)}))
	require.True(t, fire(queue.ScheduleFire{Tick: h(7)}))
	// Resuming with a cursor already ahead of now keeps it.
	require.NoError(t, s.SetSchedulePaused(ctx, nil, "hourly", false, h(2)))
	require.True(t, scheduleState(t, s, "hourly").LastTick.Equal(h(7)))

	// Triggers: an earlier pending request is kept; a fire serves only the
	// request it names, once.
	require.NoError(t, s.TriggerSchedule(ctx, nil, "hourly", h(8)))
	require.NoError(t, s.TriggerSchedule(ctx, nil, "hourly", h(8).Add(time.Minute)))
	require.True(t, scheduleState(t, s, "hourly").TriggerAt.Equal(h(8)))
	require.False(t, fire(queue.ScheduleFire{Trigger: h(8).Add(time.Minute)}))
	require.True(t, fire(queue.ScheduleFire{Trigger: h(8)}))
	require.False(t, fire(queue.ScheduleFire{Trigger: h(8)}))
	st = scheduleState(t, s, "hourly")
	require.True(t, st.TriggerAt.IsZero())
	require.True(t, st.LastRun.Equal(h(8)))
	require.True(t, st.LastTick.Equal(h(7)), "a trigger leaves the cursor alone")

	// Triggers fire while paused.
	require.NoError(t, s.SetSchedulePaused(ctx, nil, "hourly", true, h(9)))
	require.NoError(t, s.TriggerSchedule(ctx, nil, "hourly", h(9)))
	require.True(t, fire(queue.ScheduleFire{Trigger: h(9)}))

	for _, f := range []queue.ScheduleFire{{Name: "hourly"}, {Name: "hourly", Tick: h(20), Trigger: h(20)},
		{Name: "hourly", Trigger: h(20), Skip: true}} {
		_, err := s.FireSchedule(ctx, nil, f)
		require.ErrorIs(t, err, queue.ErrInvalidArgument)
		require.ErrorContains(t, err, "exactly one of Tick and Trigger")
	}
	ok, err := s.FireSchedule(ctx, nil, queue.ScheduleFire{Name: "other", Tick: h(20), Now: h(20)})
	require.NoError(t, err)
	require.False(t, ok, "an unknown schedule fires nothing")
}

func TestScheduleActionsUnknownName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openScheduleStore(t, filepath.Join(t.TempDir(), "spool.db"))
	for _, err := range []error{
		s.SetSchedulePaused(ctx, nil, "ghost", true, schedT0),
		s.SetSchedulePaused(ctx, nil, "ghost", false, schedT0),
		s.TriggerSchedule(ctx, nil, "ghost", schedT0),
	} {
		require.ErrorIs(t, err, queue.ErrScheduleNotFound)
		require.ErrorContains(t, err, `schedule "ghost"`)
	}
	list, err := s.Schedules(ctx)
	require.NoError(t, err)
	require.Empty(t, list)
}

// The scheduler's pattern: record the fire, then enqueue its job with
// EnqueueTx, in one transaction on DB(). A job that fails to enqueue rolls
// the fire back with it; a fired tick does not fire again after its job
// completed.
func TestFireScheduleInTransactionWithEnqueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openScheduleStore(t, filepath.Join(t.TempDir(), "spool.db"))
	q, err := queue.New(s, queue.Options{Now: func() time.Time { return schedT0 }})
	require.NoError(t, err)

	tx, err := s.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, s.SaveSchedule(ctx, tx, queue.ScheduleState{Name: "s", Spec: "@hourly", TimeZone: "UTC",
		Kind: "k", Queue: "default", Misfire: "catch-up"}, schedT0))
	require.NoError(t, s.TriggerSchedule(ctx, tx, "s", schedT0))
	require.NoError(t, tx.Rollback())
	list, err := s.Schedules(ctx)
	require.NoError(t, err)
	require.Empty(t, list, "the rolled-back transaction stored nothing")
	require.NoError(t, s.SaveSchedule(ctx, nil, queue.ScheduleState{Name: "s", Spec: "@hourly", TimeZone: "UTC",
		Kind: "k", Queue: "default", Misfire: "catch-up"}, schedT0))

	fireWithJob := func(tick time.Time, job queue.NewJob) (bool, int64, error) {
		tx, err := s.DB().BeginTx(ctx, nil)
		require.NoError(t, err)
		defer tx.Rollback()
		ok, err := s.FireSchedule(ctx, tx, queue.ScheduleFire{Name: "s", Tick: tick, Now: schedT0})
		require.NoError(t, err)
		if !ok {
			return false, 0, nil
		}
		res, err := q.EnqueueTx(ctx, tx, job)
		if err != nil {
			return false, 0, err
		}
		require.NoError(t, tx.Commit())
		return true, res.ID, nil
	}
	tick := schedT0.Add(time.Hour)
	job := queue.NewJob{Kind: "k", UniqueKey: fmt.Sprint("s@", tick.Unix())}

	_, _, err = fireWithJob(tick, queue.NewJob{Kind: "not a kind"})
	require.ErrorIs(t, err, queue.ErrInvalidJob)
	require.True(t, scheduleState(t, s, "s").LastTick.Equal(schedT0), "the failed enqueue rolled the fire back")

	ok, id, err := fireWithJob(tick, job)
	require.NoError(t, err)
	require.True(t, ok)
	st := scheduleState(t, s, "s")
	require.True(t, st.LastTick.Equal(tick))
	require.True(t, st.LastRun.Equal(tick))

	// Complete the job: its key is free again, but the tick does not fire
	// again.
	require.NoError(t, q.Inspector().Delete(ctx, id))
	ok, _, err = fireWithJob(tick, job)
	require.NoError(t, err)
	require.False(t, ok)
	jobs, err := q.Inspector().List(ctx, queue.ListFilter{})
	require.NoError(t, err)
	require.Empty(t, jobs)
}

// Schedulers in two processes (two stores on one file, two goroutines each)
// race to fire the same ticks: each tick is recorded by exactly one, and
// only its job is enqueued (no idempotency key helps here). One store
// shares an app's pool whose transactions begin DEFERRED: the fire, first
// in the transaction, takes the write lock and waits for it.
func TestFireScheduleRaceAcrossStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spool.db")
	appDB, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	t.Cleanup(func() { appDB.Close() })
	first := openScheduleStore(t, path)
	app, err := sqlite.New(ctx, appDB, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { app.Close() })
	stores := []*sqlite.Store{first, app}
	require.NoError(t, stores[0].SaveSchedule(ctx, nil, queue.ScheduleState{Name: "race", Spec: "* * * * * *",
		TimeZone: "UTC", Kind: "k", Queue: "default", Misfire: "catch-up"}, schedT0))
	const ticks = 60
	wins := make([][]int, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for g := range 4 {
		s := stores[g%2]
		q, err := queue.New(s, queue.Options{})
		require.NoError(t, err)
		wg.Go(func() {
			for i := 1; i <= ticks; i++ {
				tick := schedT0.Truncate(time.Second).Add(time.Duration(i) * time.Second)
				err := func() error {
					tx, err := s.DB().BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					defer tx.Rollback()
					ok, err := s.FireSchedule(ctx, tx, queue.ScheduleFire{Name: "race", Tick: tick, Now: tick})
					if err != nil || !ok {
						return err
					}
					if _, err := q.EnqueueTx(ctx, tx, queue.NewJob{Kind: "k"}); err != nil {
						return err
					}
					wins[g] = append(wins[g], i)
					return tx.Commit()
				}()
				if err != nil {
					errs[g] = err
					return
				}
			}
		})
	}
	wg.Wait()
	seen := map[int]int{}
	for g := range 4 {
		require.NoError(t, errs[g])
		for _, i := range wins[g] {
			seen[i]++
		}
	}
	require.Len(t, seen, ticks)
	for i, n := range seen {
		require.Equal(t, 1, n, "tick %d", i)
	}
	var jobs int
	require.NoError(t, stores[0].DB().QueryRow(`SELECT count(*) FROM spool_jobs`).Scan(&jobs))
	require.Equal(t, ticks, jobs)
}

func TestSchedulesOnReadOnlyStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spool.db")
	rw := openScheduleStore(t, path)
	require.NoError(t, rw.SaveSchedule(ctx, nil, queue.ScheduleState{Name: "s", Spec: "@daily", TimeZone: "UTC",
		Kind: "k", Queue: "default", Misfire: "skip"}, schedT0))
	ro, err := sqlite.Open(ctx, path, sqlite.Options{ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	list, err := ro.Schedules(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "skip", list[0].Misfire)
	require.ErrorIs(t, ro.TriggerSchedule(ctx, nil, "s", schedT0), queue.ErrReadOnly)
	require.ErrorIs(t, ro.SaveSchedule(ctx, nil, queue.ScheduleState{Name: "t"}, schedT0), queue.ErrReadOnly)
}
