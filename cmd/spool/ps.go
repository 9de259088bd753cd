package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spooljobs/spool/internal/wire"
)

// The process command: ps, the live worker pools.

var psCommand = &command{name: "ps", summary: "the live worker pools: host, pid, version, queues", run: runPs}

const psAbout = `Usage: spool ps [flags]

Ps lists the worker pools working the database now, from the heartbeat
row each pool records at start and every heartbeat interval: its name and
id, host, pid, the spool version it runs, when it started and last
heartbeat, and per queue the jobs it runs now and its concurrency
(RUNNING/MAX). A pool that stops heartbeating (its host died) drops off
after three heartbeat intervals; one that stops cleanly at once. It shows
the first -limit pools by name and says how many more there are (with
-json, next_after and next_after_id name the last pool shown).

Flags:
`

func runPs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("ps", psAbout, stderr, true)
	limit := c.fs.Int("limit", 100, "show at most `N` pools (1 to 1000)")
	if _, err := c.parse(args); err != nil {
		return err
	}
	if *limit < 1 || *limit > 1000 {
		return usageErrorf("-limit %d is outside 1..1000", *limit)
	}
	d, err := c.openRead(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	in := d.q.Inspector()
	ps, err := in.Processes(ctx)
	if err != nil {
		return err
	}
	now := d.q.Now()
	more := max(0, len(ps)-*limit)
	ps = ps[:len(ps)-more] // the store orders them by name, then ID
	if c.json {
		out := wire.NewProcesses(now, in.TracksProcesses(), ps)
		if more > 0 {
			out.NextAfter, out.NextAfterID = ps[len(ps)-1].Name, ps[len(ps)-1].ID
		}
		return writeJSON(stdout, out)
	}
	if !in.TracksProcesses() {
		return fmt.Errorf("the store (%T) keeps no process rows", d.q.Store())
	}
	tw := newTable(stdout)
	row(tw, "NAME", "ID", "HOST", "PID", "VERSION", "STARTED", "LAST SEEN", "QUEUES (RUNNING/MAX)")
	for _, p := range ps {
		qs := make([]string, len(p.Queues))
		for i, q := range p.Queues {
			qs[i] = fmt.Sprintf("%s %d/%d", q.Name, q.Running, q.Concurrency)
		}
		row(tw, p.Name, p.ID, p.Host, p.PID, p.Version, fmtAgo(p.StartedAt, now), fmtAgo(p.LastSeen, now), strings.Join(qs, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(ps) == 0 {
		fmt.Fprintln(stderr, "no live worker pools: pending jobs wait until a pool works their queue")
	}
	if more > 0 {
		fmt.Fprintf(stderr, "%s not shown: raise -limit to see them\n", plural(more, "more pool"))
	}
	return nil
}
