package sqlstore

import (
	"time"

	"github.com/spooljobs/spool/queue"
)

// RateBucket is a queue's shared rate limit (QueueSettings.RateLimit per
// RatePeriod) as stored on its queue row: a token bucket that refills
// continuously, Limit tokens per Period, and holds at most Limit. Times and
// the period are microseconds (in the store's time frame).
type RateBucket struct {
	Limit  int64   // jobs per period; the bucket's capacity
	Period int64   // µs
	Tokens float64 // tokens at At; negative: never used (a full bucket)
	At     int64   // µs when Tokens was counted; 0: never
}

// Take refills the bucket to now and returns how many of want jobs may
// start (the whole tokens, at most want), and, when that is fewer than
// want, when the next token is due (µs; 0 otherwise). The caller takes
// the jobs it leased with Spend.
func (b *RateBucket) Take(now int64, want int) (n int, nextAt int64) {
	if b.Tokens < 0 || b.At == 0 {
		b.Tokens = float64(b.Limit)
	} else if elapsed := now - b.At; elapsed > 0 { // a clock step back refills nothing
		b.Tokens += float64(elapsed) * float64(b.Limit) / float64(b.Period)
	}
	b.Tokens = min(b.Tokens, float64(b.Limit))
	b.At = max(now, b.At)
	n = min(want, int(b.Tokens))
	if n < want {
		missing := float64(n+1) - b.Tokens // to the next whole token past those taken
		nextAt = b.At + int64(missing*float64(b.Period)/float64(b.Limit)) + 1
	}
	return n, nextAt
}

// Spend takes n tokens for the jobs leased.
func (b *RateBucket) Spend(n int) { b.Tokens = max(0, b.Tokens-float64(n)) }

// RateSetting is what a store writes for qs's rate limit: the limit and
// its period in µs (a second when unset), or two NULLs for none.
func RateSetting(qs queue.QueueSettings) (limit, periodUS any) {
	if qs.RateLimit <= 0 {
		return nil, nil
	}
	period := qs.RatePeriod
	if period <= 0 {
		period = time.Second
	}
	return qs.RateLimit, period.Microseconds()
}
