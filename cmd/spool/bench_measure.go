package main

// Measuring: latency percentiles, Lease timings, peak memory.

import (
	"bufio"
	"context"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spooljobs/spool/queue"
)

// setLatencies sets the result's p50, p99 and max from d, when there are any.
func (b *bench) setLatencies(d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	ms := func(d time.Duration) *float64 {
		v := round(float64(d)/float64(time.Millisecond), 3)
		return &v
	}
	b.res.P50ms = ms(percentile(d, 50))
	b.res.P99ms = ms(percentile(d, 99))
	b.res.MaxMs = ms(d[len(d)-1])
}

// percentile returns the nearest-rank p-th percentile of sorted d.
func percentile(d []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

// round rounds v to places decimal places.
func round(v float64, places int) float64 {
	f := math.Pow(10, float64(places))
	return math.Round(v*f) / f
}

// ms is d in milliseconds, rounded to 3 places.
func ms(d time.Duration) float64 {
	return round(float64(d)/float64(time.Millisecond), 3)
}

// longestGap returns the longest time between two successive moments of
// sorted (from 0, the start, on). With none, it is the whole window.
func longestGap(sorted []time.Duration, window time.Duration) time.Duration {
	if len(sorted) == 0 {
		return window
	}
	gap, prev := time.Duration(0), time.Duration(0)
	for _, t := range sorted {
		gap, prev = max(gap, t-prev), t
	}
	return gap
}

// timedStore times the Lease calls the pool makes while record is set.
type timedStore struct {
	queue.Store
	record atomic.Bool
	mu     sync.Mutex
	leases []time.Duration
}

// Wait forwards the store's wake-ups (queue.Notifier): without them the
// pool would find each job only at its next poll.
func (s *timedStore) Wait(name string) (<-chan struct{}, func()) {
	return s.Store.(queue.Notifier).Wait(name)
}

// Notify forwards to the store's queue.Notifier.
func (s *timedStore) Notify(name string) { s.Store.(queue.Notifier).Notify(name) }

// Lease leases through the store, timing the call while record is set.
func (s *timedStore) Lease(ctx context.Context, p queue.LeaseParams) (queue.LeaseResult, error) {
	if !s.record.Load() {
		return s.Store.Lease(ctx, p)
	}
	start := time.Now()
	res, err := s.Store.Lease(ctx, p)
	d := time.Since(start)
	s.mu.Lock()
	s.leases = append(s.leases, d)
	s.mu.Unlock()
	return res, err
}

// peakRSS returns the process's peak resident set size in MB (VmHWM).
func peakRSS() (float64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			return 0, false
		}
		return round(kb/1024, 1), true
	}
	return 0, false
}
