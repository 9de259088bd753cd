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

// printMultiproc prints the multiproc report as three tables: the setup,
// a row per process, and the totals.
func printMultiproc(w io.Writer, r *multiprocResult) {
	printMultiprocSetup(w, r)
	fmt.Fprintln(w)
	printMultiprocProcs(w, r.Processes)
	fmt.Fprintln(w)
	printMultiprocTotals(w, r)
}

// printMultiprocSetup prints what the run was asked to do.
func printMultiprocSetup(w io.Writer, r *multiprocResult) {
	orDefault := func(ms int64, def string) string {
		if ms == 0 {
			return "default (" + def + ")"
		}
		return (time.Duration(ms) * time.Millisecond).String()
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
}

// printMultiprocProcs prints a row per process.
func printMultiprocProcs(w io.Writer, procs []multiprocProc) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "proc\tenqueued/s\tcompleted/s\tp50 ms\tp99 ms\tp99.9 ms\tmax ms\tstall ms\tErrBusy\tother errors\trescued\tlease lost\tlog warnings\t\n")
	for _, p := range procs {
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
}

// printMultiprocTotals prints the figures across processes and the
// delivery check.
func printMultiprocTotals(w io.Writer, r *multiprocResult) {
	ratio := func(v *float64) string {
		if v == nil {
			return "- (a process made no progress)"
		}
		return strconv.FormatFloat(*v, 'f', 2, 64)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "enqueued/s ratio max/min\t%s\n", ratio(r.ThroughputRatio))
	fmt.Fprintf(tw, "completed/s ratio max/min\t%s\n", ratio(r.CompletedRatio))
	fmt.Fprintf(tw, "slowest enqueue\t%.3f ms\n", r.SlowestEnqueueMs)
	fmt.Fprintf(tw, "longest stall\t%.3f ms\n", r.LongestStallMs)
	if r.DrainSeconds > 0 {
		fmt.Fprintf(tw, "backlog drained\t%d jobs in %.3f s: %.0f jobs/s\n", r.Backlog, r.DrainSeconds, r.DrainedPerSec)
	}
	fmt.Fprintf(tw, "enqueued (acknowledged)\t%d\n", r.Enqueued)
	fmt.Fprintf(tw, "completed\t%d\n", r.Completed)
	fmt.Fprintf(tw, "left in the file\t%s\n", leftText(r.Left))
	fmt.Fprintf(tw, "lost\t%d\n", r.Lost)
	fmt.Fprintf(tw, "run more than once\t%s (%s)\n", plural(r.Duplicates, "job"), plural(r.ExtraRuns, "extra run"))
	fmt.Fprintf(tw, "run though Enqueue failed\t%d\n", r.RanUnacknowledged)
	tw.Flush()
}

// leftText is the total of the jobs left in the file, followed by the
// count of each state, such as "7 (pending 5, running 2)".
func leftText(left map[string]int) string {
	var states []string
	total := 0
	for _, s := range slices.Sorted(maps.Keys(left)) {
		states = append(states, fmt.Sprintf("%s %d", s, left[s]))
		total += left[s]
	}
	text := strconv.Itoa(total)
	if len(states) > 0 {
		text += " (" + strings.Join(states, ", ") + ")"
	}
	return text
}
