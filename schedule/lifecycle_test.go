package schedule_test

// The scheduler's lifecycle: New and its options, Start and Stop, RunOnce's errors.

import (
	"context"
	"testing"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
	"github.com/spooljobs/spool/sqlite"
	"github.com/stretchr/testify/require"
)

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
