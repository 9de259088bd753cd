package main

// The multiproc scenario's table.

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func printMultiproc(w io.Writer, r *multiprocResult) {
	orDefault := func(ms int64, def string) string {
		if ms == 0 {
			return "default (" + def + ")"
		}
		return (time.Duration(ms) * time.Millisecond).String()
	}
	ratio := func(v *float64) string {
		if v == nil {
			return "- (a process made no progress)"
		}
		return strconv.FormatFloat(*v, 'f', 2, 64)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\t%s\n", r.Scenario)
	fmt.Fprintf(tw, "processes\t%d\n", r.Procs)
	fmt.Fprintf(tw, "producers\t%d per process\n", r.Producers)
	fmt.Fprintf(tw, "workers\t%d per process\n", r.Workers)
	fmt.Fprintf(tw, "seconds\t%g\n", r.Seconds)
	fmt.Fprintf(tw, "lease\t%s\n", orDefault(r.LeaseMs, "30s"))
	fmt.Fprintf(tw, "busy timeout\t%s\n", orDefault(r.BusyTimeoutMs, "5s"))
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "proc\tenqueued/s\tcompleted/s\tp50 ms\tp99 ms\tp99.9 ms\tmax ms\tstall ms\tErrBusy\tother errors\trescued\tlease lost\tlog warnings\t\n")
	for _, p := range r.Processes {
		other := 0
		for k, n := range p.Errors {
			if k != "busy" {
				other += n
			}
		}
		warnings := 0
		for _, n := range p.Warnings {
			warnings += n
		}
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t%d\t%d\t\n", p.Proc, p.EnqueuedPerSec, p.CompletedPerSec,
			p.P50ms, p.P99ms, p.P999ms, p.MaxMs, p.LongestStallMs, p.BusyErrors, other, p.Rescued, p.LeaseLost, warnings)
	}
	tw.Flush()
	fmt.Fprintln(w)
	var left []string
	total := 0
	for _, s := range slices.Sorted(maps.Keys(r.Left)) {
		left = append(left, fmt.Sprintf("%s %d", s, r.Left[s]))
		total += r.Left[s]
	}
	leftText := strconv.Itoa(total)
	if len(left) > 0 {
		leftText += " (" + strings.Join(left, ", ") + ")"
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "enqueued/s ratio max/min\t%s\n", ratio(r.ThroughputRatio))
	fmt.Fprintf(tw, "completed/s ratio max/min\t%s\n", ratio(r.CompletedRatio))
	fmt.Fprintf(tw, "slowest enqueue\t%.3f ms\n", r.SlowestEnqueueMs)
	fmt.Fprintf(tw, "longest stall\t%.3f ms\n", r.LongestStallMs)
	fmt.Fprintf(tw, "enqueued (acknowledged)\t%d\n", r.Enqueued)
	fmt.Fprintf(tw, "completed\t%d\n", r.Completed)
	fmt.Fprintf(tw, "left in the file\t%s\n", leftText)
	fmt.Fprintf(tw, "lost\t%d\n", r.Lost)
	fmt.Fprintf(tw, "run more than once\t%d jobs (%d extra runs)\n", r.Duplicates, r.ExtraRuns)
	fmt.Fprintf(tw, "run though Enqueue failed\t%d\n", r.RanUnacknowledged)
	tw.Flush()
}
