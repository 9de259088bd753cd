package main

// The single-process scenarios' table.

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// printBench prints a single-process scenario's result as a table; "-"
// marks what the scenario does not measure.
func printBench(w io.Writer, r *benchResult) {
	opt := func(v *float64, unit string) string {
		if v == nil {
			return "-"
		}
		return strconv.FormatFloat(*v, 'f', -1, 64) + unit
	}
	num := func(v int) string {
		if v == 0 {
			return "-"
		}
		return strconv.Itoa(v)
	}
	latency := "latency"
	if r.Scenario == "backlog" {
		latency = "lease latency"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\t%s\n", r.Scenario)
	fmt.Fprintf(tw, "jobs\t%d\n", r.Jobs)
	fmt.Fprintf(tw, "workers\t%s\n", num(r.Workers))
	fmt.Fprintf(tw, "producers\t%s\n", num(r.Producers))
	fmt.Fprintf(tw, "rate\t%s\n", num(r.Rate))
	if r.Keys > 0 {
		fmt.Fprintf(tw, "ordering keys\t%d\n", r.Keys)
	}
	if r.PartitionKeys > 0 {
		fmt.Fprintf(tw, "partition keys\t%d\n", r.PartitionKeys)
	}
	if r.MaxRunningPerKey > 0 {
		fmt.Fprintf(tw, "max running per key\t%d\n", r.MaxRunningPerKey)
	}
	if r.MaxRunning > 0 {
		fmt.Fprintf(tw, "max running\t%d\n", r.MaxRunning)
	}
	fmt.Fprintf(tw, "seconds\t%.3f\n", r.Seconds)
	fmt.Fprintf(tw, "jobs/s\t%.0f\n", r.JobsPerSec)
	fmt.Fprintf(tw, "%s p50\t%s\n", latency, opt(r.P50ms, " ms"))
	fmt.Fprintf(tw, "%s p99\t%s\n", latency, opt(r.P99ms, " ms"))
	fmt.Fprintf(tw, "%s max\t%s\n", latency, opt(r.MaxMs, " ms"))
	fmt.Fprintf(tw, "peak RSS\t%s\n", opt(r.PeakRSSMB, " MB"))
	fmt.Fprintf(tw, "lost\t%d\n", r.Lost)
	fmt.Fprintf(tw, "duplicates\t%d\n", r.Duplicates)
	tw.Flush()
}
