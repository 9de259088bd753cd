package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// The batches command.

var batchesCommand = &command{name: "batches", summary: "list batches with their progress, or show one", run: runBatches}

const batchesAbout = `Usage: spool batches [flags] [batch ID]

Batches lists the newest 50 batches with their progress: members done of
total, how many succeeded, died and were cancelled, whether the batch is
still open, and which callbacks (success, complete, death) it enqueued.
With a batch ID it shows that batch and its callback jobs.

Flags:
`

// callbacksText says which callbacks a batch enqueued.
func callbacksText(b *queue.Batch) string {
	s := ""
	add := func(fired bool, name string, id int64) {
		if !fired {
			return
		}
		if s != "" {
			s += ", "
		}
		s += name
		if id != 0 {
			s += fmt.Sprintf(" (job %d)", id)
		}
	}
	add(b.SuccessFired, "success", b.SuccessJob)
	add(b.CompleteFired, "complete", b.CompleteJob)
	add(b.DeathFired, "death", b.DeathJob)
	if s == "" {
		return "-"
	}
	return s
}

func runBatches(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("batches", batchesAbout, stderr, true)
	pos, err := c.parse(args, "batch ID?")
	if err != nil {
		return err
	}
	var id int64
	if len(pos) == 1 {
		if id, err = parseID(pos[0]); err != nil {
			return err
		}
	}
	d, err := c.openRead(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if id != 0 {
		b, err := d.q.Inspector().Batch(ctx, id)
		if errors.Is(err, queue.ErrBatchNotFound) {
			return notFoundf("no batch %d", id)
		}
		if err != nil {
			return err
		}
		if c.json {
			return writeJSON(stdout, wire.NewBatch(b))
		}
		tw := newTable(stdout)
		field := func(name string, v any) { row(tw, name+":", v) }
		field("Batch", b.ID)
		if b.Description != "" {
			field("Description", oneLine(b.Description, 200))
		}
		field("Created", fmtTime(b.CreatedAt))
		if b.Open() {
			field("Closed", "no (open: takes more members)")
		} else {
			field("Closed", fmtTime(b.ClosedAt))
		}
		field("Progress", fmt.Sprintf("%d of %d done: %d succeeded, %d dead, %d cancelled", b.Done(), b.Total, b.Succeeded, b.Dead, b.Cancelled))
		field("Callbacks", callbacksText(b))
		return tw.Flush()
	}
	list, err := d.q.Inspector().Batches(ctx, queue.BatchFilter{})
	if err != nil {
		return err
	}
	if c.json {
		out := make([]wire.Batch, len(list))
		for i, b := range list {
			out[i] = wire.NewBatch(b)
		}
		return writeJSON(stdout, out)
	}
	tw := newTable(stdout)
	row(tw, "BATCH", "DONE", "SUCCEEDED", "DEAD", "CANCELLED", "OPEN", "CALLBACKS", "DESCRIPTION")
	for _, b := range list {
		open := "no"
		if b.Open() {
			open = "yes"
		}
		desc := oneLine(b.Description, 60)
		if desc == "" {
			desc = "-"
		}
		row(tw, b.ID, fmt.Sprintf("%d/%d", b.Done(), b.Total), b.Succeeded, b.Dead, b.Cancelled, open, callbacksText(b), desc)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(stderr, "no batches")
	}
	return nil
}
