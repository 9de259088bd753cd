package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spooljobs/spool/queue"
)

// The queue commands: stats, pause, resume.

var (
	statsCommand = &command{name: "stats", summary: "jobs per queue and state, and the last minutes' throughput",
		run: runStats}
	pauseCommand  = &command{name: "pause", summary: "stop workers in every process from leasing a queue's jobs", run: runPause}
	resumeCommand = &command{name: "resume", summary: "resume a paused queue", run: runResume}
)

// queueJSON is a queue's counts in -json output; the names are those of the
// admin's JSON API.
type queueJSON struct {
	Name                 string  `json:"name"`
	Pending              int     `json:"pending"`
	Scheduled            int     `json:"scheduled"`
	Blocked              int     `json:"blocked"`
	BlockedKeys          int     `json:"blocked_keys"`
	StuckKeys            int     `json:"stuck_keys"`
	Running              int     `json:"running"`
	Completed            int     `json:"completed"`
	Cancelled            int     `json:"cancelled"`
	Dead                 int     `json:"dead"`
	OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
	Paused               bool    `json:"paused"`
	MaxPending           int     `json:"max_pending"`
}

type minuteJSON struct {
	Minute    time.Time `json:"minute"`
	Completed int       `json:"completed"`
	Failed    int       `json:"failed"`
	Dead      int       `json:"dead"`
}

const statsAbout = `Usage: spool stats [flags]

Stats shows, per queue, the jobs pending (ready to run), scheduled (due
later), blocked (behind an earlier job of their ordering key), running and
dead; how long the oldest pending job has waited; whether the queue is
paused and its limit on waiting jobs (-: none). Below, the attempts
settled per minute over the last -minutes: completed, failed (to be
retried) and dead.

Flags:
`

func runStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("stats", statsAbout, stderr, true)
	minutes := c.fs.Int("minutes", 5, "show the throughput of the last `N` minutes (1 to 60)")
	if _, err := c.parse(args); err != nil {
		return err
	}
	if *minutes < 1 || *minutes > 60 {
		return usageErrorf("-minutes %d is outside 1..60", *minutes)
	}
	d, err := c.openRead(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	st, err := d.q.Inspector().Stats(ctx)
	if err != nil {
		return err
	}
	tp := st.Throughput
	if len(tp) > *minutes {
		tp = tp[len(tp)-*minutes:]
	}
	if c.json {
		out := struct {
			Now        time.Time    `json:"now"`
			Queues     []queueJSON  `json:"queues"`
			Throughput []minuteJSON `json:"throughput"`
		}{Now: d.q.Now().UTC(), Queues: []queueJSON{}, Throughput: []minuteJSON{}}
		for _, q := range st.Queues {
			out.Queues = append(out.Queues, queueJSON{Name: q.Name, Pending: q.Pending, Scheduled: q.Scheduled,
				Blocked: q.Blocked, BlockedKeys: q.BlockedKeys, StuckKeys: q.StuckKeys, Running: q.Running,
				Completed: q.Completed, Cancelled: q.Cancelled, Dead: q.Dead,
				OldestPendingSeconds: q.OldestPending.Seconds(), Paused: q.Paused, MaxPending: q.MaxPending})
		}
		for _, m := range tp {
			out.Throughput = append(out.Throughput, minuteJSON{Minute: m.Minute.UTC(), Completed: m.Completed, Failed: m.Failed, Dead: m.Dead})
		}
		return writeJSON(stdout, out)
	}
	tw := newTable(stdout)
	row(tw, "QUEUE", "PENDING", "SCHEDULED", "BLOCKED", "RUNNING", "DEAD", "OLDEST PENDING", "PAUSED", "LIMIT")
	for _, q := range st.Queues {
		limit := "-"
		if q.MaxPending > 0 {
			limit = fmt.Sprint(q.MaxPending)
		}
		row(tw, q.Name, q.Pending, q.Scheduled, q.Blocked, q.Running, q.Dead, fmtDuration(q.OldestPending), yesNo(q.Paused), limit)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.Queues) == 0 {
		fmt.Fprintln(stderr, "no queues")
	}
	var sum queue.MinuteStats
	for _, m := range tp {
		sum.Completed += m.Completed
		sum.Failed += m.Failed
		sum.Dead += m.Dead
	}
	fmt.Fprintf(stdout, "\nLast %d minutes: %d completed, %d failed, %d dead (%.1f completed per minute)\n",
		len(tp), sum.Completed, sum.Failed, sum.Dead, float64(sum.Completed)/float64(max(len(tp), 1)))
	tw = newTable(stdout)
	row(tw, "MINUTE (UTC)", "COMPLETED", "FAILED", "DEAD")
	for _, m := range tp {
		row(tw, m.Minute.UTC().Format("15:04"), m.Completed, m.Failed, m.Dead)
	}
	return tw.Flush()
}

const pauseAbout = `Usage: spool pause [flags] QUEUE

Pause stops workers in every process on the database from leasing new jobs
of QUEUE until 'spool resume'. Running jobs finish; enqueueing goes on.

Flags:
`

const resumeAbout = `Usage: spool resume [flags] QUEUE

Resume lets workers lease the jobs of a paused QUEUE again.

Flags:
`

func runPause(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return setPaused(ctx, "pause", pauseAbout, true, args, stdout, stderr)
}

func runResume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return setPaused(ctx, "resume", resumeAbout, false, args, stdout, stderr)
}

func setPaused(ctx context.Context, name, about string, paused bool, args []string, stdout, stderr io.Writer) error {
	c := newCmdline(name, about, stderr, true)
	pos, err := c.parse(args, "QUEUE")
	if err != nil {
		return err
	}
	if err := checkName("QUEUE", pos[0]); err != nil {
		return err
	}
	d, err := c.openWrite(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if paused {
		err = d.q.Inspector().Pause(ctx, pos[0])
	} else {
		err = d.q.Inspector().Resume(ctx, pos[0])
	}
	if err != nil {
		return storeError(err)
	}
	if c.json {
		return writeJSON(stdout, struct {
			Queue  string `json:"queue"`
			Paused bool   `json:"paused"`
		}{pos[0], paused})
	}
	if paused {
		// A queue can be paused before it has jobs; say so, in case the
		// name is a typo.
		if st, err := d.q.Inspector().Stats(ctx); err == nil && !hasQueue(st, pos[0]) {
			fmt.Fprintf(stderr, "note: queue %s has no jobs yet; it stays paused until resumed\n", pos[0])
		}
	}
	verb := "paused"
	if !paused {
		verb = "resumed"
	}
	_, err = fmt.Fprintf(stdout, "%s queue %s\n", verb, pos[0])
	return err
}

func hasQueue(st *queue.Stats, name string) bool {
	for _, q := range st.Queues {
		if q.Name == name && (q.Pending+q.Scheduled+q.Blocked+q.Running+q.Completed+q.Cancelled+q.Dead > 0) {
			return true
		}
	}
	return false
}
