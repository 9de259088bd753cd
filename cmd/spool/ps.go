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
after three heartbeat intervals; one that stops cleanly at once.

Flags:
`

func runPs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("ps", psAbout, stderr, true)
	if _, err := c.parse(args); err != nil {
		return err
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
	if c.json {
		return writeJSON(stdout, wire.NewProcesses(now, in.TracksProcesses(), ps))
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
	return nil
}
