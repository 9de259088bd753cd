package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// The database's clock. Several hosts share the database and their clocks
// disagree, while every time the store compares (a lease's expiry, a run
// time, a leader's term, a retention cut-off) came from a caller's clock
// (queue.Options.Now). So the store translates at its boundary: it
// measures how far its host's clock is from the database's (the offset)
// and stores every time shifted by it, into the database's frame, and
// shifts every time it reads back into the host's frame. Hosts then agree
// on every stored time, and a caller's clock, even a test's fake one, still
// round-trips exactly: both ways shift by the same constant.
//
// Durations (timeout_us, retain_age_us) are not times and are not shifted.
// Schedule cursors are not shifted either (schedules.go): they are cron
// ticks named in the host's calendar, compared only with each other.

const (
	// clockStep is the least change of the measured offset the store
	// adopts. A measure is off by up to half a round trip; adopting every
	// one would make the times a store reads back differ from those it
	// wrote by that noise. Only a clock step (a host clock set, a VM
	// resumed) moves the offset, and an offset smaller than clockStep
	// stays zero: hosts kept in time by NTP store times as they are.
	clockStep = 250 * time.Millisecond
	// clockRemeasure is how often the store measures the offset again.
	clockRemeasure = 30 * time.Second
	// clockLogOffset is the offset from which Open logs it (Info).
	clockLogOffset = time.Second
	// clockSamples is how many round trips a measure takes; the one with
	// the shortest round trip (the least uncertain) counts.
	clockSamples = 3
	// clockTimeout bounds one measure in the background.
	clockTimeout = 10 * time.Second
)

// sqlClockNow reads the database's clock in microseconds since the Unix
// epoch: clock_timestamp, the time of the statement's execution (now() is
// the transaction's start).
const sqlClockNow = `SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint`

// clockHooks replace the clock's host wall clock and its re-measure
// ticker, for tests (export_test.go). Their zero value uses time.Now and
// a ticker of clockRemeasure.
type clockHooks struct {
	now      func() time.Time
	ticks    <-chan time.Time
	measured chan<- time.Duration // receives the offset after each re-measure
}

// clock holds the offset of the database's clock from the host's, and
// measures it again in the background until stopped.
type clock struct {
	db     *sql.DB
	logger *slog.Logger
	now    func() time.Time
	off    atomic.Int64 // µs: database clock minus host clock

	hooks clockHooks
	stop  chan struct{}
	done  chan struct{}
}

func newClock(db *sql.DB, logger *slog.Logger, hooks clockHooks) *clock {
	c := &clock{db: db, logger: logger, now: hooks.now, hooks: hooks}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// frame returns the offset in force now: an operation translates all its
// times with one frame, so that a re-measure in its midst cannot shift
// some of them and not others.
func (c *clock) frame() frame { return frame{c.off.Load()} }

// offset is the offset in force.
func (c *clock) offset() time.Duration {
	return time.Duration(c.off.Load()) * time.Microsecond
}

// measure returns the database's clock minus the host's, from the sample
// with the shortest round trip: the host's clock is read before and after
// the database's, and their midpoint stands for the moment it was read.
func (c *clock) measure(ctx context.Context) (time.Duration, error) {
	var best, bestRTT time.Duration
	for i := range clockSamples {
		before := c.now()
		var dbUS int64
		if err := c.db.QueryRowContext(ctx, sqlClockNow).Scan(&dbUS); err != nil {
			return 0, fmt.Errorf("postgres: read the database's clock: %w", mapErr(err))
		}
		after := c.now()
		rtt := after.Sub(before)
		mid := before.Add(rtt / 2)
		off := time.Duration(dbUS-mid.UnixMicro()) * time.Microsecond
		if i == 0 || rtt < bestRTT {
			best, bestRTT = off, rtt
		}
	}
	return best, nil
}

// update measures the offset and adopts it when it differs from the one in
// force by more than clockStep. first says whether this is the store's
// first measure (logged as a finding, not as a step).
func (c *clock) update(ctx context.Context, first bool) error {
	off, err := c.measure(ctx)
	if err != nil {
		return err
	}
	old := c.offset()
	if (off - old).Abs() <= clockStep {
		return nil
	}
	c.off.Store(off.Microseconds())
	switch {
	case first && off.Abs() > clockLogOffset:
		c.logger.Info("postgres: this host's clock differs from the database's; the store translates its times (offset: database minus host)",
			"offset", off)
	case !first:
		c.logger.Warn("postgres: this host's clock stepped; the store now translates its times by the new offset (database minus host)",
			"offset", off, "previous", old)
	}
	return nil
}

// start measures again every clockRemeasure (or at each tick of the
// hooks') until close.
func (c *clock) start() {
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(c.done)
		ticks := c.hooks.ticks
		if ticks == nil {
			t := time.NewTicker(clockRemeasure)
			defer t.Stop()
			ticks = t.C
		}
		for {
			select {
			case <-c.stop:
				return
			case <-ticks:
			}
			c.runOnce()
		}
	}()
}

// runOnce is one background re-measure. A failure keeps the offset in
// force: the next tick tries again.
func (c *clock) runOnce() {
	ctx, cancel := context.WithTimeout(context.Background(), clockTimeout)
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := c.update(ctx, false)
	cancel()
	if err != nil {
		c.logger.Warn("postgres: measuring the database's clock failed; keeping the offset", "offset", c.offset(), "err", err)
	}
	if c.hooks.measured != nil {
		select {
		case c.hooks.measured <- c.offset():
		case <-c.stop:
		}
	}
}

// close stops the background re-measure and waits for it.
func (c *clock) close() {
	if c.stop == nil {
		return
	}
	close(c.stop)
	<-c.done
}

// frame translates times between the host's frame (callers' times) and the
// database's (stored times): off microseconds are added on the way in and
// taken off on the way out, so a time round-trips exactly. Times are
// stored as microseconds since the Unix epoch (bigint) and read back in
// the local zone, as package sqlite reads them. The zero frame translates
// nothing (schedule cursors, schedules.go).
type frame struct{ off int64 }

// us is t as stored: its microseconds in the database's frame.
func (f frame) us(t time.Time) int64 { return t.UnixMicro() + f.off }

// nullUS is t as stored, or NULL for the zero time.
func (f frame) nullUS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return f.us(t)
}

// usOrZero is t as stored, 0 (an open bound) for the zero time.
func (f frame) usOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return f.us(t)
}

// time is the host's time of a stored time.
func (f frame) time(us int64) time.Time { return time.UnixMicro(us - f.off) }

// nullTime is the host's time of a nullable time column, zero for NULL.
func (f frame) nullTime(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return f.time(v.Int64)
}

// minuteShift is the offset in whole minutes, in seconds: the shift of
// the throughput counters' minutes (spool.metrics, throughput.go), which
// must stay whole minutes in both frames. Hosts whose offsets round alike
// count into the same rows.
func (f frame) minuteShift() int64 {
	return int64((time.Duration(f.off) * time.Microsecond).Round(time.Minute) / time.Second)
}

// in shifts a time kept in a stored text (an error history's entries)
// into the database's frame; out shifts it back. The zero time stays zero.
func (f frame) in(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Add(time.Duration(f.off) * time.Microsecond)
}

func (f frame) out(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Add(-time.Duration(f.off) * time.Microsecond)
}
