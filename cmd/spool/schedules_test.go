package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
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

// A schedule that fires more often than once a minute shows seconds in its
// next and previous runs; one that fires on the minute does not.
func TestCLISchedulesSeconds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sched, err := schedule.New(f.q, schedule.Options{Now: func() time.Time { return now }})
	require.NoError(t, err)
	job := queue.NewJob{Kind: "poll", Queue: "maintenance"}
	require.NoError(t, sched.Add(schedule.Entry{Name: "poll.every", Spec: "@every 10s", Job: job}))
	require.NoError(t, sched.Add(schedule.Entry{Name: "poll.cron", Spec: "*/15 * * * * *", Job: job}))
	require.NoError(t, sched.Add(schedule.Entry{Name: "poll.minutes", Spec: "@every 2m", Job: job}))
	_, err = sched.RunOnce(ctx)
	require.NoError(t, err)
	now = now.Add(10 * time.Minute) // a tick of each is enqueued: prev runs
	_, err = sched.RunOnce(ctx)
	require.NoError(t, err)

	r := ok(t, "schedules", "-db", f.path)
	columnsAligned(t, r.stdout, "NAME", "SPEC", "NEXT", "PREV", "PAUSED")
	withSecs := regexp.MustCompile(`\d\d:\d\d:\d\d UTC`)
	rows := map[string]string{}
	for _, l := range strings.Split(r.stdout, "\n") {
		if name, _, ok := strings.Cut(l, " "); ok {
			rows[name] = l
		}
	}
	for _, name := range []string{"poll.every", "poll.cron"} {
		require.Len(t, withSecs.FindAllString(rows[name], -1), 2, "next and prev with seconds:\n%s", r.stdout)
	}
	for _, name := range []string{"poll.minutes", fixtureSchedule} {
		require.NotRegexp(t, withSecs, rows[name], "on the minute:\n%s", r.stdout)
	}
	require.Regexp(t, `\d\d:\d\d UTC`, rows["poll.minutes"])
}
