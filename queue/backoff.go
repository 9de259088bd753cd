package queue

import (
	"math/rand/v2"
	"time"
)

// Backoff returns how long to wait before retrying after the attempt-th
// failed attempt (1 for the first). Any function of this shape can be used
// per kind or per queue (see worker.Options).
type Backoff func(attempt int) time.Duration

// DefaultBackoff is Exponential(time.Second, time.Hour): waits of about 1s,
// 2s, 4s, 8s ... reaching the one-hour cap at the 13th attempt. With the
// default 25 attempts a job keeps trying for about 13 hours before it is dead.
var DefaultBackoff = Exponential(time.Second, time.Hour)

// Exponential returns the default backoff formula with the given base and
// cap:
//
//	d     = min(max, base · 2^(attempt−1))
//	delay = d/2 + random[0, d/2)
//
// that is, exponential growth with "equal jitter": never less than half the
// exponential value, so retries spread out without collapsing to zero, and
// never more than max.
//
// A base of zero or less gives no delay; a max below base caps at max (and
// a max of zero or less at zero).
func Exponential(base, max time.Duration) Backoff {
	base, max = clampNonNegative(base), clampNonNegative(max)
	return func(attempt int) time.Duration {
		if base == 0 || max == 0 {
			return 0
		}
		if attempt < 1 {
			attempt = 1
		}
		d := max
		if attempt <= 62 {
			if exp := base << (attempt - 1); exp > 0 && exp>>(attempt-1) == base && exp < max {
				d = exp
			}
		}
		half := d / 2
		if half <= 0 {
			return d
		}
		return half + rand.N(d-half)
	}
}

func clampNonNegative(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}

// Constant returns a backoff that always waits d.
func Constant(d time.Duration) Backoff {
	return func(int) time.Duration { return d }
}
