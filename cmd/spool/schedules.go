package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
)

// The schedules command: list the periodic schedules stored in the
// database, pause, resume and trigger them. It uses a schedule.Scheduler
// with nothing registered, which acts on the schedules any process stored.

var schedulesCommand = &command{name: "schedules", summary: "list periodic schedules; pause, resume or trigger one",
	run: runSchedules}

const schedulesAbout = `Usage: spool schedules [flags]
       spool schedules pause|resume|trigger [flags] NAME

Schedules lists the periodic schedules stored in the database (by any
process that registered one) with their spec, time zone, job, next and
previous run (in the schedule's zone; with seconds where it fires more
often than once a minute) and whether they are paused.

  pause NAME    stop enqueueing the schedule's ticks, in every process,
                until resumed
  resume NAME   resume it; the ticks that passed while paused are skipped
  trigger NAME  request one run now, paused or not: the next round of a
                scheduler that has the schedule registered enqueues it

Flags:
`

func runSchedules(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("schedules", schedulesAbout, stderr, true)
	pos, err := c.parse(args, "ACTION?", "NAME?")
	if err != nil {
		return err
	}
	if len(pos) == 0 || pos[0] == "list" || pos[0] == "ls" {
		if len(pos) > 1 {
			return usageErrorf("unexpected argument %q", pos[1])
		}
		return listSchedules(ctx, c, stdout)
	}
	action := pos[0]
	switch action {
	case "pause", "resume", "trigger":
	default:
		return usageErrorf("unknown action %q: want pause, resume or trigger", action)
	}
	if len(pos) < 2 {
		return usageErrorf("%s needs a schedule NAME", action)
	}
	name := pos[1]
	d, err := c.openWrite(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	s, err := schedule.New(d.q, schedule.Options{})
	if err != nil {
		return err
	}
	var msg string
	switch action {
	case "pause":
		err, msg = s.Pause(ctx, name), "paused schedule "+name
	case "resume":
		err, msg = s.Resume(ctx, name), "resumed schedule "+name
	case "trigger":
		err, msg = s.Trigger(ctx, name), "triggered schedule "+name+": the next round of a scheduler that has it registered enqueues one job"
	}
	if err != nil {
		return storeError(err, name)
	}
	if c.json {
		info, err := findSchedule(ctx, s, name)
		if err != nil {
			return err
		}
		return writeJSON(stdout, info)
	}
	_, err = fmt.Fprintln(stdout, msg)
	return err
}

// findSchedule returns the named schedule's JSON form.
func findSchedule(ctx context.Context, s *schedule.Scheduler, name string) (wire.Schedule, error) {
	list, err := s.List(ctx)
	if err != nil {
		return wire.Schedule{}, err
	}
	for _, i := range list {
		if i.Name == name {
			return wire.NewSchedule(i), nil
		}
	}
	return wire.Schedule{}, storeError(queue.ErrScheduleNotFound, name)
}

func listSchedules(ctx context.Context, c *cmdline, stdout io.Writer) error {
	d, err := c.openRead(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	s, err := schedule.New(d.q, schedule.Options{})
	if err != nil {
		return err
	}
	list, err := s.List(ctx)
	if err != nil {
		return err
	}
	if c.json {
		return writeJSON(stdout, wire.NewSchedules(list))
	}
	tw := newTable(stdout)
	row(tw, "NAME", "SPEC", "ZONE", "KIND", "QUEUE", "NEXT", "PREV", "PAUSED", "TRIGGER")
	for _, i := range list {
		layout := "2006-01-02 15:04 MST"
		if withSeconds(i) {
			layout = "2006-01-02 15:04:05 MST"
		}
		zoned := func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.Format(layout)
		}
		trigger := "-"
		if !i.TriggerAt.IsZero() {
			trigger = "requested " + fmtTime(i.TriggerAt)
		}
		row(tw, i.Name, i.Spec, i.TimeZone, i.Kind, i.Queue, zoned(i.Next), zoned(i.Prev), yesNo(i.Paused), trigger)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(c.stderr, "no schedules")
	}
	return nil
}

// withSeconds reports whether a schedule's times are shown with seconds:
// when it may fire more often than once a minute (a cron spec with a
// seconds field, an @every interval that is not whole minutes), or its
// next run is not on a minute (@every 2m counted from 12:00:17).
func withSeconds(i schedule.Info) bool {
	spec := strings.TrimSpace(i.Spec)
	if rest, ok := strings.CutPrefix(spec, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil || d%time.Minute != 0 {
			return true
		}
	} else if !strings.HasPrefix(spec, "@") && len(strings.Fields(spec)) == 6 {
		return true
	}
	return i.Next.Second() != 0
}
