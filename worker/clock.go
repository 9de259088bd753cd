package worker

import (
	"fmt"
	"sync"
	"time"
)

// The pool reads two clocks. The queue's clock (queue.Options.Now) is the
// wall clock: leases end at wall-clock times, compared across processes.
// The monotonic clock (Options.Monotonic) only measures time passing, and
// a step of the wall clock (an operator, NTP on a badly-off host, a VM
// resumed from a snapshot, a laptop waking from sleep) does not move it.
//
// A forward step of the wall clock makes every lease look older than it
// is: without a guard, a rescuer that runs right after it takes the jobs of
// live workers whose next heartbeat was simply not due yet. The rescuer
// therefore compares, between two of its runs, how far each clock moved.
// When the wall clock moved more than stepTolerance further than the
// monotonic one, it rescues nothing for one LeaseDuration of monotonic
// time: enough for every live owner's heartbeat (every HeartbeatInterval,
// shorter than the lease) to extend its leases from the new wall clock
// (now + LeaseDuration), so that only the leases of owners that really
// stopped are still expired when rescue resumes.
//
// What remains:
//   - A backward step makes leases look longer: jobs of crashed workers are
//     rescued up to the step later. Nothing is lost or run twice.
//   - The guard sees steps of its own host's clock between two of its runs
//     (the first compares with the pool's Start). A pool that starts just
//     after the step does not notice it: jobs whose leases the step
//     made look expired are rescued at once, their owners lose them at the
//     next heartbeat (ErrLeaseLost) and they run again. Start pools a
//     LeaseDuration after a known step, or stop them across it.
//   - Hosts whose clocks disagree (pools on several machines sharing a
//     file over a network file system, which SQLite does not support
//     anyway) are not steps and are not noticed: a host whose clock runs
//     ahead by more than LeaseDuration-HeartbeatInterval rescues the jobs
//     of live workers elsewhere. A server database backend will compare
//     leases against the database's clock instead.
//   - Other wall-clock decisions follow the step: scheduled jobs and
//     retries become due early (forward) or late (backward), and jobs with
//     an expiry expire early.
const stepTolerance = time.Second

// stepGuard is the rescuer's memory of its last run, to notice wall-clock
// steps between runs.
type stepGuard struct {
	mu     sync.Mutex
	seen   bool          // wall and mono hold the last run's readings
	wall   time.Time     // the wall clock at the last run, monotonic reading stripped
	mono   time.Duration // the monotonic clock at the last run
	paused bool          // rescue waits until the monotonic clock reaches until
	until  time.Duration
}

// monotonic returns the monotonic clock's reading, taken with now, the
// queue clock's reading.
func (p *Pool) monotonic(now time.Time) time.Duration {
	if p.opts.Monotonic != nil {
		return p.opts.Monotonic()
	}
	// Both times carry Go's monotonic reading when the queue's clock is
	// time.Now, and Sub then uses it; else this is the queue clock's.
	return now.Sub(p.epoch)
}

// rescuePaused reports whether rescue must wait because the wall clock
// stepped forward lately; now is the queue clock's reading. It logs each
// step once.
func (p *Pool) rescuePaused(now time.Time) bool {
	mono := p.monotonic(now)
	now = now.Round(0) // wall-clock arithmetic from here on
	g := &p.step
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen {
		switch jump := now.Sub(g.wall) - (mono - g.mono); {
		case jump > stepTolerance:
			g.paused, g.until = true, mono+p.opts.LeaseDuration
			p.logger.Warn(fmt.Sprintf("spool: wall clock jumped forward by %s; rescue paused until %s (a LeaseDuration, for live workers to extend their leases from the new time)",
				jump.Round(time.Millisecond), now.Add(p.opts.LeaseDuration).UTC().Format(time.RFC3339)),
				"jump", jump, "pool", p.opts.Name)
		case jump < -stepTolerance:
			p.logger.Warn(fmt.Sprintf("spool: wall clock stepped back by %s; jobs of crashed workers are rescued up to that much later", (-jump).Round(time.Millisecond)),
				"jump", jump, "pool", p.opts.Name)
		}
	}
	g.seen, g.wall, g.mono = true, now, mono
	if g.paused && mono >= g.until {
		g.paused = false
		p.logger.Info("spool: rescue resumed after the wall-clock step", "pool", p.opts.Name)
	}
	return g.paused
}
