package main

// Merging the children's results and checking delivery across them.

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/spooljobs/spool/queue"
)

// mergeMultiproc combines the children's results, their job ID files and
// the jobs left in the file into the report.
func mergeMultiproc(ctx context.Context, cfg benchConfig, dir string, d *benchDB, procs []multiprocProc, stderr io.Writer) (*multiprocResult, error) {
	res := &multiprocResult{
		Scenario: "multiproc", Procs: cfg.procs, Producers: cfg.producers, Workers: cfg.workers,
		Seconds: cfg.duration.Seconds(), LeaseMs: cfg.lease.Milliseconds(), BusyTimeoutMs: cfg.busyTimeout.Milliseconds(),
		Processes: procs, Left: map[string]int{},
	}
	acked, ran, err := readChildIDs(dir, procs)
	if err != nil {
		return nil, err
	}
	if cfg.backlog > 0 {
		backlog, err := readIDs(filepath.Join(dir, idsFile("enqueued", 0)))
		if err != nil {
			return nil, err
		}
		acked = append(acked, backlog...)
		res.Backlog = len(backlog)
	}
	sumProcs(res, procs)
	if res.Backlog > 0 && cfg.producers == 0 {
		for _, p := range procs {
			res.DrainSeconds = max(res.DrainSeconds, p.LastRunSeconds)
		}
		if res.DrainSeconds > 0 {
			res.DrainedPerSec = round(float64(res.Backlog)/res.DrainSeconds, 0)
		}
	}
	left, err := jobsLeft(ctx, d)
	if err != nil {
		return nil, err
	}
	slices.Sort(acked)
	slices.Sort(ran)
	lost, err := classifyAcked(res, acked, ran, left)
	if err != nil {
		return nil, err
	}
	res.Enqueued, res.Lost = len(acked), len(lost)
	countRuns(res, acked, ran)
	if len(lost) > 0 {
		fmt.Fprintf(stderr, "multiproc: lost jobs (the first IDs): %v\n", lost[:min(len(lost), 10)])
	}
	return res, nil
}

// readChildIDs reads every child's files of the job IDs it enqueued
// (acknowledged) and ran, and checks them against the counts it reported.
func readChildIDs(dir string, procs []multiprocProc) (acked, ran []int64, err error) {
	for _, p := range procs {
		a, err := readIDs(filepath.Join(dir, idsFile("enqueued", p.Proc)))
		if err != nil {
			return nil, nil, err
		}
		if len(a) != p.Enqueued {
			return nil, nil, fmt.Errorf("multiproc: child %d reports %s enqueued but its file lists %d", p.Proc, plural(p.Enqueued, "job"), len(a))
		}
		r, err := readIDs(filepath.Join(dir, idsFile("ran", p.Proc)))
		if err != nil {
			return nil, nil, err
		}
		if len(r) != p.Completed {
			return nil, nil, fmt.Errorf("multiproc: child %d reports %s but its file lists %d", p.Proc, plural(p.Completed, "handler run"), len(r))
		}
		acked, ran = append(acked, a...), append(ran, r...)
	}
	return acked, ran, nil
}

// sumProcs sets the report's figures over the processes: the worst
// latency and stall, the sums of errors and lease trouble, the ratios.
func sumProcs(res *multiprocResult, procs []multiprocProc) {
	for _, p := range procs {
		res.SlowestEnqueueMs = max(res.SlowestEnqueueMs, p.MaxMs)
		res.LongestStallMs = max(res.LongestStallMs, p.LongestStallMs)
		res.BusyErrors += p.BusyErrors
		res.Rescued += p.Rescued
		res.LeaseLost += p.LeaseLost
	}
	res.ThroughputRatio = spread(procs, func(p multiprocProc) float64 { return p.EnqueuedPerSec })
	res.CompletedRatio = spread(procs, func(p multiprocProc) float64 { return p.CompletedPerSec })
}

// classifyAcked counts each acknowledged job (sorted acked) as left in the
// file, completed (in sorted ran) or lost, and returns the lost ones.
func classifyAcked(res *multiprocResult, acked, ran []int64, left map[int64]queue.State) ([]int64, error) {
	var lost []int64
	for i, id := range acked {
		if i > 0 && acked[i-1] == id {
			return nil, fmt.Errorf("multiproc: job %d was acknowledged to two Enqueue calls", id)
		}
		switch state, inFile := left[id]; {
		case inFile:
			res.Left[string(state)]++
		case runCount(ran, id) > 0:
			res.Completed++
		default:
			lost = append(lost, id)
		}
	}
	return lost, nil
}

// runCount returns how often job id ran, from the sorted IDs of the runs.
func runCount(ran []int64, id int64) int {
	i, found := slices.BinarySearch(ran, id)
	if !found {
		return 0
	}
	n := 0
	for ; i < len(ran) && ran[i] == id; i++ {
		n++
	}
	return n
}

// countRuns counts the jobs run more than once and the jobs run though
// their Enqueue failed, from the sorted IDs of the acknowledged jobs and
// of the runs.
func countRuns(res *multiprocResult, acked, ran []int64) {
	for i := 0; i < len(ran); {
		j := i
		for j < len(ran) && ran[j] == ran[i] {
			j++
		}
		if j-i > 1 {
			res.Duplicates++
			res.ExtraRuns += j - i - 1
		}
		if _, found := slices.BinarySearch(acked, ran[i]); !found {
			res.RanUnacknowledged++
		}
		i = j
	}
}

// spread returns the highest of f over procs divided by the lowest, or nil
// when the lowest is 0.
func spread(procs []multiprocProc, f func(multiprocProc) float64) *float64 {
	if len(procs) == 0 {
		return nil
	}
	lo, hi := f(procs[0]), f(procs[0])
	for _, p := range procs[1:] {
		lo, hi = min(lo, f(p)), max(hi, f(p))
	}
	if lo <= 0 {
		return nil
	}
	v := round(hi/lo, 3)
	return &v
}

// jobsLeft returns the state of every job left in the database d, by ID.
func jobsLeft(ctx context.Context, d *benchDB) (map[int64]queue.State, error) {
	path := d.shown
	store, _, err := d.open(ctx, benchOpen{readOnly: true})
	if err != nil {
		return nil, fmt.Errorf("multiproc: open %s to check delivery: %w", path, err)
	}
	defer store.Close()
	left := map[int64]queue.State{}
	var before int64
	for {
		// Newest first; every page is the jobs below the last ID.
		jobs, err := store.List(ctx, queue.ListFilter{BeforeID: before, Limit: 1000, OmitPayload: true})
		if err != nil {
			return nil, fmt.Errorf("multiproc: list the jobs left in %s: %w", path, err)
		}
		if len(jobs) == 0 {
			return left, nil
		}
		for _, j := range jobs {
			left[j.ID] = j.State
		}
		before = jobs[len(jobs)-1].ID
	}
}

// idsFile is the name of child proc's file of the job IDs it enqueued or ran.
func idsFile(what string, proc int) string {
	return fmt.Sprintf("%s-%d.ids", what, proc)
}

// writeIDs writes ids to path as little-endian 64-bit integers.
func writeIDs(path string, ids []int64) error {
	buf := make([]byte, 0, 8*len(ids))
	for _, id := range ids {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(id))
	}
	return os.WriteFile(path, buf, 0o600)
}

// readIDs reads a file writeIDs wrote.
func readIDs(path string) ([]int64, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("multiproc: read job IDs: %w", err)
	}
	if len(buf)%8 != 0 {
		return nil, fmt.Errorf("multiproc: job ID file %s has %s, not a multiple of 8", path, plural(len(buf), "byte"))
	}
	ids := make([]int64, len(buf)/8)
	for i := range ids {
		ids[i] = int64(binary.LittleEndian.Uint64(buf[8*i:]))
	}
	return ids, nil
}
