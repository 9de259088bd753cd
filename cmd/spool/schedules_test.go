package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// schedules lists the stored schedules, and pauses, resumes and triggers
// one by name.
func TestCLISchedules(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := ok(t, "schedules", "-db", f.path)
	columnsAligned(t, r.stdout, "NAME", "SPEC", "ZONE", "KIND", "QUEUE", "NEXT", "PAUSED")
	require.Contains(t, r.stdout, fixtureSchedule)
	require.Contains(t, r.stdout, "30 2 * * *")

	var list struct {
		Schedules []struct {
			Name      string     `json:"name"`
			Spec      string     `json:"spec"`
			TimeZone  string     `json:"time_zone"`
			Kind      string     `json:"kind"`
			Queue     string     `json:"queue"`
			Next      *time.Time `json:"next_run"`
			Prev      *time.Time `json:"prev_run"`
			Paused    bool       `json:"paused"`
			TriggerAt *time.Time `json:"trigger_requested_at"`
		} `json:"schedules"`
	}
	okJSON(t, &list, "schedules", "-db", f.path)
	require.Len(t, list.Schedules, 1)
	s := list.Schedules[0]
	require.Equal(t, fixtureSchedule, s.Name)
	require.Equal(t, "UTC", s.TimeZone)
	require.Equal(t, "stock.sync", s.Kind)
	require.Equal(t, "maintenance", s.Queue)
	require.NotNil(t, s.Next)
	require.Equal(t, 2, s.Next.Hour())
	require.Equal(t, 30, s.Next.Minute())
	require.Nil(t, s.Prev)
	require.False(t, s.Paused)

	state := func() queue.ScheduleState {
		list, err := f.store.Schedules(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
		return list[0]
	}
	r = ok(t, "schedules", "pause", fixtureSchedule, "-db", f.path)
	require.Equal(t, "paused schedule "+fixtureSchedule+"\n", r.stdout)
	require.True(t, state().Paused)
	okJSON(t, &s, "schedules", "-db", f.path, "resume", fixtureSchedule)
	require.False(t, s.Paused)
	require.False(t, state().Paused)
	r = ok(t, "schedules", "-db", f.path, "trigger", fixtureSchedule)
	require.Contains(t, r.stdout, "triggered schedule "+fixtureSchedule)
	require.False(t, state().TriggerAt.IsZero())
	r = ok(t, "schedules", "-db", f.path)
	require.Contains(t, r.stdout, "requested")
}
