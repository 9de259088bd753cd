package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// The queue commands: stats, pause, resume.

var (
	statsCommand = &command{name: "stats", summary: "jobs per queue and state, and the last minutes' throughput",
		run: runStats}
	pauseCommand  = &command{name: "pause", summary: "stop workers in every process from leasing a queue's jobs", run: runPause}
	resumeCommand = &command{name: "resume", summary: "resume a paused queue", run: runResume}
)

const statsAbout = `Usage: spool stats [flags]

Stats shows, per queue, the jobs pending (ready to run), scheduled (due
later), blocked (behind an earlier job of their ordering key), the
ordering keys they wait on (BLOCKED KEYS), the keys stuck behind a dead
job (STUCK KEYS: they move on only once it is retried or deleted), the
jobs running and dead; how long the oldest pending job has waited;
whether the queue is paused and its limit on waiting jobs (-: none);
CONCURRENCY sums the workers of the live worker pools that work the queue
(see 'spool ps'), and a queue with pending jobs that no live pool works is
marked "! no live worker"; when no pool is live at all, a note says so
once instead of marking every such queue. Every known queue is listed:
with jobs, with settings (paused or resumed, limited), or worked by a
live pool. Below, the attempts settled per minute over the last -minutes:
completed, failed (to be retried) and dead; then, per queue, how long the
last hour's attempts waited to start (p50 and p99, estimated from fixed
buckets; the admin's Charts page has them per minute and per kind).

Flags:
`

// unservedMark marks, in the stats table, a queue with pending jobs that
// no live worker pool works.
const unservedMark = "! no live worker"

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
		return writeJSON(stdout, wire.NewStats(d.q.Now(), st, tp))
	}
	tw := newTable(stdout)
	head := []any{"QUEUE", "PENDING", "SCHEDULED", "BLOCKED", "BLOCKED KEYS", "STUCK KEYS", "AWAITING PARENTS", "RUNNING", "DEAD", "OLDEST PENDING", "PAUSED", "LIMIT", "MAX RUNNING", "RATE", "MAX RUNNING PER KEY", "RATE PER KEY"}
	if st.ProcessesTracked {
		head = append(head, "CONCURRENCY", "")
	}
	row(tw, head...)
	stuck, unserved := 0, 0
	for _, q := range st.Queues {
		limit, maxRunning := "-", "-"
		if q.MaxPending > 0 {
			limit = fmt.Sprint(q.MaxPending)
		}
		if q.MaxRunning > 0 {
			maxRunning = fmt.Sprint(q.MaxRunning)
		}
		rate := "-"
		if q.RateLimit > 0 {
			rate = fmt.Sprintf("%d/%s", q.RateLimit, q.RatePeriod)
		}
		keyRunning, keyRate := "-", "-"
		if q.MaxRunningPerKey > 0 {
			keyRunning = fmt.Sprint(q.MaxRunningPerKey)
		}
		if q.RateLimitPerKey > 0 {
			keyRate = fmt.Sprintf("%d/%s", q.RateLimitPerKey, q.RatePeriodPerKey)
		}
		cells := []any{q.Name, q.Pending, q.Scheduled, q.Blocked, q.BlockedKeys, q.StuckKeys, q.AwaitingParents, q.Running, q.Dead,
			fmtDuration(q.OldestPending), yesNo(q.Paused), limit, maxRunning, rate, keyRunning, keyRate}
		if st.ProcessesTracked {
			conc, mark := "-", ""
			if q.Workers > 0 {
				conc = fmt.Sprint(q.Concurrency)
			}
			if q.Unserved {
				unserved++
				if !st.NoLivePool() {
					mark = unservedMark // with no pool at all, the note says it once
				}
			}
			cells = append(cells, conc, mark)
		}
		row(tw, cells...)
		stuck += q.StuckKeys
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.Queues) == 0 {
		fmt.Fprintln(stderr, "no queues")
	}
	if stuck > 0 {
		fmt.Fprintf(stderr, "note: %s stuck behind a dead job: retry or delete the dead job to let the key move on ('spool ls -state dead')\n",
			plural(stuck, "ordering key"))
	}
	switch {
	case unserved > 0 && st.NoLivePool():
		fmt.Fprintf(stderr, "note: %s: the pending jobs of %s wait ('spool ps' lists the live pools)\n",
			queue.NoLivePoolNote, plural(unserved, "queue"))
	case unserved > 0:
		fmt.Fprintf(stderr, "note: %s marked %q: %s ('spool ps' lists the live pools)\n",
			plural(unserved, "queue"), unservedMark, queue.UnservedNote)
	}
	var sum queue.MinuteStats
	for _, m := range tp {
		sum.Completed += m.Completed
		sum.Failed += m.Failed
		sum.Dead += m.Dead
	}
	fmt.Fprintf(stdout, "\nLast %s: %d completed, %d failed, %d dead (%.1f completed per minute)\n",
		plural(len(tp), "minute"), sum.Completed, sum.Failed, sum.Dead, float64(sum.Completed)/float64(max(len(tp), 1)))
	tw = newTable(stdout)
	row(tw, "MINUTE (UTC)", "COMPLETED", "FAILED", "DEAD")
	for _, m := range tp {
		row(tw, m.Minute.UTC().Format("15:04"), m.Completed, m.Failed, m.Dead)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return printWaits(ctx, stdout, d.q.Inspector())
}

// statsWaitQueues caps the queues of the wait table (the busiest first).
const statsWaitQueues = 100

// printWaits prints, per queue with attempts in the last hour, how long
// they waited to start (queue.Inspector.Charts): the p50 and p99
// estimates. Nothing on a store without metrics per kind.
func printWaits(ctx context.Context, stdout io.Writer, in *queue.Inspector) error {
	c, err := in.Charts(ctx, queue.ChartsOptions{Top: statsWaitQueues})
	if err != nil || !c.Tracked {
		return err
	}
	var rows []queue.ChartSeries
	for _, s := range c.Queues {
		if s.Attempts > 0 {
			rows = append(rows, s)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(stdout, "\nWait to start (run start minus due time), last hour; p50 and p99 are estimates from fixed buckets:")
	tw := newTable(stdout)
	row(tw, "QUEUE", "ATTEMPTS", "WAIT P50", "WAIT P99")
	for _, s := range rows {
		row(tw, s.Name, s.Attempts, fmtWait(s.WaitP50), fmtWait(s.WaitP99))
	}
	return tw.Flush()
}

// fmtWait formats an estimated wait (wire.Wait).
func fmtWait(d time.Duration) string { return wire.Wait(d, "") }

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
		return storeError(err, "")
	}
	if c.json {
		return writeJSON(stdout, wire.PauseResult{Queue: pos[0], Paused: paused})
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
		if q.Name == name && (q.Pending+q.Scheduled+q.Blocked+q.AwaitingParents+q.Running+q.Completed+q.Cancelled+q.Dead > 0) {
			return true
		}
	}
	return false
}
