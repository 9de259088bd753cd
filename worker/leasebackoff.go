package worker

import (
	"errors"
	"fmt"
	"time"

	"github.com/spooljobs/spool/queue"
)

// maxLeaseBackoff caps the wait between lease attempts against a store
// that keeps failing.
const maxLeaseBackoff = 30 * time.Second

// leaseFailures is a fetcher's run of failed leases in a row: an episode.
type leaseFailures struct {
	n        int           // failed leases in a row
	delay    time.Duration // the wait after the last failure
	until    time.Duration // no lease before the monotonic clock reads this
	logged   bool          // the episode's first failure was logged
	corrupts bool          // the episode's first corruption error was logged
}

// wait returns how long the fetcher must still wait before it leases, or 0.
func (f *leaseFailures) wait(p *Pool) time.Duration {
	if f.n == 0 {
		return 0
	}
	if mono := p.monotonic(p.q.Now()); mono < f.until {
		return f.until - mono
	}
	return 0
}

// leaseFailed backs the fetcher of queue off after a failed lease. A busy
// database (ErrBusy: another writer held the lock past the busy timeout,
// which the call already waited) is tried again after PollInterval. Other
// errors do not pass by retrying at once, corruption (queue.ErrCorrupt) least
// of all: the wait doubles from a second (or PollInterval, if longer) up to
// maxLeaseBackoff. The first failure of an episode is logged, and so is its
// first corruption error, with what to do; later ones only at debug level.
func (p *Pool) leaseFailed(name string, f *leaseFailures, err error) {
	f.n++
	if errors.Is(err, queue.ErrBusy) {
		f.delay = p.opts.PollInterval
	} else {
		f.delay = max(p.opts.PollInterval, time.Second)
		for i := 1; i < f.n && f.delay < maxLeaseBackoff; i++ {
			f.delay *= 2
		}
		f.delay = min(f.delay, maxLeaseBackoff)
	}
	f.until = p.monotonic(p.q.Now()) + f.delay
	switch {
	case errors.Is(err, queue.ErrCorrupt) && !f.corrupts:
		f.corrupts, f.logged = true, true
		file := p.dbFile()
		p.logger.Error(fmt.Sprintf("spool: the database file is corrupt: leasing jobs of queue %q fails, retrying with back-off up to %s. "+
			"Check the file with `spool check -db %s` (or PRAGMA integrity_check), then restore it from a backup, "+
			"or salvage what is readable with `sqlite3 %s .recover`", name, maxLeaseBackoff, file, file),
			"queue", name, "file", file, "err", err)
	case !f.logged:
		f.logged = true
		p.logger.Error("spool: lease failed; retrying with back-off", "queue", name, "retry_in", f.delay, "err", err)
	default:
		p.logger.Debug("spool: lease failed again", "queue", name, "failures", f.n, "retry_in", f.delay, "err", err)
	}
}

// recovered ends an episode of failures after a lease succeeded.
func (f *leaseFailures) recovered(p *Pool, name string) {
	if f.n > 0 && f.logged {
		p.logger.Info("spool: leasing works again", "queue", name, "failures", f.n)
	}
	*f = leaseFailures{}
}
