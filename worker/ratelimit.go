package worker

import (
	"math"
	"time"
)

// bucket is a token bucket: rate tokens per second, at most burst saved.
// The fetcher takes a token per job it leases, so handlers start no faster
// than the rate however many workers wait. Its clock is the queue's.
type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int, now time.Time) *bucket {
	if rate <= 0 {
		return nil
	}
	b := float64(burst)
	if b < 1 {
		b = math.Max(1, math.Ceil(rate))
	}
	return &bucket{rate: rate, burst: b, tokens: b, last: now}
}

func (b *bucket) refill(now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = math.Min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
}

// take returns how many of want jobs may be leased now and spends them.
func (b *bucket) take(now time.Time, want int) int {
	if b == nil {
		return want
	}
	b.refill(now)
	n := min(want, int(b.tokens))
	b.tokens -= float64(n)
	return n
}

// refund returns tokens taken for jobs the lease did not find.
func (b *bucket) refund(n int) {
	if b != nil && n > 0 {
		b.tokens = math.Min(b.burst, b.tokens+float64(n))
	}
}

// wait is how long until the next token.
func (b *bucket) wait() time.Duration {
	if b == nil || b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}
