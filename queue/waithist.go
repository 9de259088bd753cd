package queue

import (
	"math"
	"time"
)

// WaitBuckets is the number of buckets of a WaitHistogram: the finite
// bounds of WaitBucketBounds and a last one without an upper bound.
const WaitBuckets = 16

// waitBounds are the upper bounds (inclusive) of the finite buckets. Stores
// keep one integer column per bucket (w0 … w15), so changing them needs a
// migration.
var waitBounds = [WaitBuckets - 1]time.Duration{
	time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	time.Minute, 5 * time.Minute, 30 * time.Minute,
}

// WaitBucketBounds returns the upper bounds (inclusive) of a
// WaitHistogram's buckets but the last, which has none: 1ms 5ms 10ms 50ms
// 100ms 250ms 500ms 1s 2.5s 5s 10s 30s 1m 5m 30m.
func WaitBucketBounds() []time.Duration { return waitBounds[:] }

// WaitHistogram counts attempts' queue wait times (Settlement.Wait) in
// fixed buckets: bucket i counts waits above bound i-1 up to bound i of
// WaitBucketBounds, the last one every wait above 30m.
type WaitHistogram [WaitBuckets]int64

// WaitBucket returns the index of the bucket that counts wait d (a
// negative d counts as zero).
func WaitBucket(d time.Duration) int {
	for i, b := range waitBounds {
		if d <= b {
			return i
		}
	}
	return WaitBuckets - 1
}

// Add counts one wait of d.
func (h *WaitHistogram) Add(d time.Duration) { h[WaitBucket(d)]++ }

// Merge adds o's counts to h's.
func (h *WaitHistogram) Merge(o WaitHistogram) {
	for i, n := range o {
		h[i] += n
	}
}

// Count returns the number of waits counted.
func (h WaitHistogram) Count() int64 {
	var n int64
	for _, c := range h {
		n += c
	}
	return n
}

// Quantile estimates the q-quantile (0 ≤ q ≤ 1, clamped) of the counted
// waits, interpolating linearly inside the bucket that holds it (the
// first bucket from zero, as Prometheus' histogram_quantile does). The
// estimate lies within the bounds of the bucket that holds the true
// value, and grows with q; the last bucket, which has no upper bound,
// answers its lower one (30m). It returns zero when nothing was counted.
func (h WaitHistogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	if math.IsNaN(q) || q < 0 {
		q = 0
	} else if q > 1 {
		q = 1
	}
	rank := q * float64(total)
	var cum int64
	for i, c := range h {
		if c == 0 {
			continue
		}
		if float64(cum+c) >= rank {
			if i == WaitBuckets-1 {
				return waitBounds[WaitBuckets-2]
			}
			lo := time.Duration(0)
			if i > 0 {
				lo = waitBounds[i-1]
			}
			hi := waitBounds[i]
			frac := (rank - float64(cum)) / float64(c)
			frac = max(0, min(1, frac))
			return lo + time.Duration(frac*float64(hi-lo))
		}
		cum += c
	}
	return 0 // unreachable: the loop returns at the last non-empty bucket
}

// Waited returns how long j's latest attempt waited to start: AttemptedAt
// minus RunAt (the time it was due), as leased; zero before the first
// attempt, and never negative (a job leased early by a clock skew).
func (j *Job) Waited() time.Duration {
	if j.AttemptedAt.IsZero() || j.RunAt.IsZero() {
		return 0
	}
	return max(0, j.AttemptedAt.Sub(j.RunAt))
}
