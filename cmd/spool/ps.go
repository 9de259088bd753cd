package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
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
the first -limit pools by name, then ID, and says how many more there
are; -after NAME -after-id ID shows the pools after that one (the next
page: with -json, next_after and next_after_id name the last pool shown).

Flags:
`

func runPs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("ps", psAbout, stderr, true)
	limit := c.fs.Int("limit", 100, "show at most `N` pools (1 to 1000)")
	after := c.fs.String("after", "", "show the pools after the one named `NAME` (with -after-id: the next page)")
	afterID := c.fs.String("after-id", "", "with -after: the `ID` of the last pool shown")
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
	if *after != "" || *afterID != "" {
		// The store orders them by name, then ID: skip those up to the
		// pool named.
		i, _ := slices.BinarySearchFunc(ps, [2]string{*after, *afterID}, func(p queue.ProcessInfo, k [2]string) int {
			if c := strings.Compare(p.Name, k[0]); c != 0 {
				return c
			}
			return strings.Compare(p.ID, k[1])
		})
		if i < len(ps) && ps[i].Name == *after && ps[i].ID == *afterID {
			i++
		}
		ps = ps[i:]
	}
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
		last := ps[len(ps)-1]
		fmt.Fprintf(stderr, "%s not shown: raise -limit, or see the next page with -after %s -after-id %s\n",
			plural(more, "more pool"), printable(last.Name), printable(last.ID))
	}
	return nil
}
