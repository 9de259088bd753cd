package postgres

import "time"

// HostClock replaces a store's host wall clock and its clock's re-measure
// ticker in tests: Now (nil: time.Now) is the clock the store measures
// against the database's, Ticks (nil: every 30 s) drives the re-measure,
// and Measured, when not nil, receives the offset after each re-measure.
type HostClock struct {
	Now      func() time.Time
	Ticks    <-chan time.Time
	Measured chan<- time.Duration
}

// WithHostClock returns opts with c as the store's host clock.
func WithHostClock(opts Options, c HostClock) Options {
	opts.clock = clockHooks{now: c.Now, ticks: c.Ticks, measured: c.Measured}
	return opts
}

// ClockOffset is the offset the store translates its times by: the
// database's clock minus its host's.
func (s *Store) ClockOffset() time.Duration { return s.clock.offset() }

// ClockStep is the least change of the offset the store adopts.
const ClockStep = clockStep
