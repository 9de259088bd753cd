package queue_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// A wait lands in the bucket whose bounds hold it: each bound is the
// last wait of its bucket.
func TestWaitBucket(t *testing.T) {
	t.Parallel()
	bounds := queue.WaitBucketBounds()
	require.Len(t, bounds, queue.WaitBuckets-1)
	require.True(t, slices.IsSorted(bounds))
	require.Equal(t, 0, queue.WaitBucket(-time.Second))
	require.Equal(t, 0, queue.WaitBucket(0))
	for i, b := range bounds {
		require.Equal(t, i, queue.WaitBucket(b), "bound %s", b)
		require.Equal(t, i+1, queue.WaitBucket(b+1), "just above %s", b)
	}
	require.Equal(t, queue.WaitBuckets-1, queue.WaitBucket(24*time.Hour))
}

// bucketRange returns the bounds of the bucket that counts d.
func bucketRange(d time.Duration) (lo, hi time.Duration) {
	b := queue.WaitBucketBounds()
	i := queue.WaitBucket(d)
	if i > 0 {
		lo = b[i-1]
	}
	if i == len(b) {
		return lo, lo // the last bucket answers its lower bound
	}
	return lo, b[i]
}

// Quantile's estimate grows with q and lies within the bounds of the
// bucket that holds the true quantile, for random samples of waits.
func TestWaitQuantileProperties(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 500 {
		n := 1 + rng.IntN(200)
		waits := make([]time.Duration, n)
		var h queue.WaitHistogram
		for i := range waits {
			// log-uniform from 100µs to ~2h, so that every bucket gets some
			waits[i] = time.Duration(float64(100*time.Microsecond) * math.Pow(2, rng.Float64()*26))
			h.Add(waits[i])
		}
		slices.Sort(waits)
		require.Equal(t, int64(n), h.Count())
		prev := time.Duration(-1)
		for _, q := range []float64{0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1} {
			est := h.Quantile(q)
			require.GreaterOrEqual(t, est, prev, "round %d: monotone at q=%v", round, q)
			prev = est
			// the true q-quantile: the smallest wait with at least q·n waits at or below it
			k := int(q*float64(n)+0.999999) - 1
			k = max(0, min(n-1, k))
			lo, hi := bucketRange(waits[k])
			require.GreaterOrEqual(t, est, lo, "round %d q=%v true %s", round, q, waits[k])
			require.LessOrEqual(t, est, hi, "round %d q=%v true %s", round, q, waits[k])
		}
	}
}

// Known histograms give known estimates; an empty one answers zero.
func TestWaitQuantileKnown(t *testing.T) {
	t.Parallel()
	var h queue.WaitHistogram
	require.Zero(t, h.Quantile(0.5))
	for range 100 {
		h.Add(200 * time.Millisecond) // bucket (100ms, 250ms]
	}
	require.Equal(t, 175*time.Millisecond, h.Quantile(0.5))
	require.Equal(t, 250*time.Millisecond, h.Quantile(1))
	h.Add(time.Hour)
	require.Equal(t, 30*time.Minute, h.Quantile(1), "the open last bucket answers its lower bound")
	require.Equal(t, 175750*time.Microsecond, h.Quantile(0.5), "rank 50.5 of 101")
	require.Equal(t, h.Quantile(0), h.Quantile(-1))
	require.Equal(t, h.Quantile(1), h.Quantile(2))

	var o queue.WaitHistogram
	o.Add(time.Millisecond)
	o.Merge(h)
	require.Equal(t, int64(102), o.Count())
}

// Waited is the leased attempt's start minus its due time, never negative,
// zero before the first attempt.
func TestJobWaited(t *testing.T) {
	t.Parallel()
	due := time.Unix(1_700_000_000, 0)
	require.Zero(t, (&queue.Job{RunAt: due}).Waited())
	require.Equal(t, 3*time.Second, (&queue.Job{RunAt: due, AttemptedAt: due.Add(3 * time.Second)}).Waited())
	require.Zero(t, (&queue.Job{RunAt: due, AttemptedAt: due.Add(-time.Second)}).Waited())
}
