package sqlite_test

import (
	"context"
	"database/sql"
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

var schedT0 = time.Date(2026, 3, 1, 12, 0, 0, 123456, time.UTC)

// What sqlite adds to the ScheduleStore contract (queuetest's Schedule
// cases check the contract): times are kept to the microsecond, a nameless
// schedule is refused, and a missing schedule's error names it.
func TestSchedulesSQLiteSpecifics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openScheduleStore(t, filepath.Join(t.TempDir(), "spool.db"))
	require.NoError(t, s.SaveSchedule(ctx, nil, queue.ScheduleState{Name: "s", Spec: "@hourly", TimeZone: "UTC",
		Kind: "k", Queue: "default", Misfire: "catch-up"}, schedT0))
	list, err := s.Schedules(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, schedT0.Truncate(time.Microsecond), list[0].LastTick.UTC())
	require.Equal(t, schedT0.Truncate(time.Microsecond), list[0].UpdatedAt.UTC())

	require.ErrorIs(t, s.SaveSchedule(ctx, nil, queue.ScheduleState{}, schedT0), queue.ErrInvalidArgument)
	require.ErrorContains(t, s.TriggerSchedule(ctx, nil, "ghost", schedT0), `schedule "ghost"`)
	require.ErrorContains(t, s.SetSchedulePaused(ctx, nil, "ghost", true, schedT0), `schedule "ghost"`)
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
