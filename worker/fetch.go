package worker

import (
	"context"
	"time"

	"github.com/spooljobs/spool/queue"
)

// gatherWait bounds how long a busy fetcher waits for more free slots
// before leasing for the few it has.
const gatherWait = 2 * time.Millisecond

// fetcher leases jobs for one queue of a pool and hands them to the
// queue's workers. It leases whenever it has free slots and there may be
// work: after a wake-up from the store, a poll tick, the due time of a
// scheduled job, or a full previous batch.
//
// Its state is plain fields; runOnce makes the move the state calls for,
// and the methods named for events (woken, gatherEnded, finished) change
// the state. loop is the goroutine that waits for the events; tests call
// runOnce and the event methods directly.
type fetcher struct {
	p    *Pool
	r    *queueRunner
	rate *bucket       // the queue's rate limit; nil: none
	fail leaseFailures // the current run of failed leases, for the back-off

	// minBatch is the fewest free slots worth a lease while other jobs of
	// the queue still run. Under load, slots free up one or two at a time;
	// leasing for each would cost a transaction per job or two. With fewer
	// free, the fetcher gathers freed slots for up to gatherWait first.
	// With most workers idle it leases at once, so a lightly loaded queue
	// starts jobs without delay.
	minBatch int

	inflight int         // jobs handed to workers and not yet finished
	more     bool        // there may be ready jobs: look
	gather   gatherState // the small-batch rule's progress
}

// gatherState is where a fetcher is in gathering freed slots.
type gatherState int

const (
	gatherIdle gatherState = iota // not gathering
	gatherOn                      // waiting up to gatherWait for more free slots
	gatherDone                    // gathered: lease for the slots free now
)

// move is what a fetcher's runOnce did.
type move int

const (
	// moveIdle: nothing to do until an event (no work known, no free slot,
	// or gathering already).
	moveIdle move = iota
	// moveGather: few slots are free while others run; wait up to
	// gatherWait for more before leasing.
	moveGather
	// moveBackOff: leasing failed lately; wait out the back-off.
	moveBackOff
	// moveLease: a lease was tried (or a rate limit left nothing to lease).
	moveLease
)

// newFetcher returns the fetcher of r, ready to look for work.
func newFetcher(p *Pool, r *queueRunner) *fetcher {
	return &fetcher{
		p: p, r: r,
		rate:     newBucket(r.cfg.RateLimit, r.cfg.Burst, p.q.Now()),
		minBatch: max(1, r.cfg.MaxWorkers/2),
		more:     true,
	}
}

// free is how many more jobs the queue's workers can take.
func (f *fetcher) free() int { return f.r.cfg.MaxWorkers - f.inflight }

// runOnce makes the move the fetcher's state calls for and returns it,
// with how long until the fetcher must look again: for moveGather, how
// long to gather; for moveBackOff and moveLease, when to look next (a
// poll, a back-off, the next rate-limit token, a scheduled job's due
// time); for moveIdle, 0 (keep waiting as before).
func (f *fetcher) runOnce() (move, time.Duration) {
	if !f.more || f.free() <= 0 {
		return moveIdle, 0
	}
	if f.free() < f.minBatch && f.inflight > 0 && f.gather != gatherDone {
		if f.gather == gatherOn {
			return moveIdle, 0
		}
		f.gather = gatherOn
		return moveGather, gatherWait
	}
	if wait := f.fail.wait(f.p); wait > 0 {
		// The look-again time only makes the loop read the clock again
		// (an injected clock does not follow real time); the back-off
		// itself is on the clock.
		f.more = false
		return moveBackOff, min(wait, f.p.opts.PollInterval)
	}
	f.gather = gatherIdle
	return moveLease, f.lease()
}

// lease leases as many jobs as the free slots and the rate limit allow,
// hands them to the workers, and returns when to look again.
func (f *fetcher) lease() time.Duration {
	p, r := f.p, f.r
	f.more = false
	now := p.q.Now()
	want := f.rate.take(now, f.free())
	if want == 0 {
		// Rate-limited: look again when the next token is due.
		return max(f.rate.wait(), time.Millisecond)
	}
	var began time.Time
	if p.obs != nil {
		began = time.Now()
	}
	res, err := p.store.Lease(context.Background(), queue.LeaseParams{
		Queue: r.name, Limit: want, Now: now, Until: now.Add(p.opts.LeaseDuration), Worker: p.opts.Name})
	if p.obs != nil && p.obs.Leased != nil {
		p.obs.Leased(context.Background(), queue.LeaseEvent{Queue: r.name, Requested: want, Jobs: res.Jobs, Err: err, Duration: time.Since(began)})
	}
	if err != nil {
		f.rate.refund(want)
		p.leaseFailed(r.name, &f.fail, err)
		return p.opts.PollInterval
	}
	f.fail.recovered(p, r.name)
	f.rate.refund(want - len(res.Jobs))
	p.hold(res.Jobs)
	for _, j := range res.Jobs {
		r.jobs <- j // never blocks: capacity MaxWorkers ≥ inflight
	}
	f.inflight += len(res.Jobs)
	f.more = len(res.Jobs) == want // a full batch: there may be more
	// Under a MaxRunning or MaxRunningPerKey limit, settling a job frees a
	// slot: wake then. (Jobs passed over for a per-key rate wait for the
	// token: RateLimitedUntil below.)
	r.limited.Store(res.MaxRunning > 0 || res.MaxRunningPerKey > 0)
	wait := p.opts.PollInterval
	if !res.NextRunAt.IsZero() {
		wait = min(wait, max(res.NextRunAt.Sub(now), time.Millisecond))
	}
	if !res.RateLimitedUntil.IsZero() { // the queue's shared rate limit: the next token
		wait = min(wait, max(res.RateLimitedUntil.Sub(now), time.Millisecond))
	}
	return wait
}

// woken records that there may be work: a wake-up from the store, or the
// look-again timer.
func (f *fetcher) woken() { f.more = true }

// gatherEnded records that gathering freed slots took gatherWait: lease
// for those free now.
func (f *fetcher) gatherEnded() { f.gather = gatherDone }

// finished records that n jobs handed to workers finished.
func (f *fetcher) finished(n int) { f.inflight -= n }

// loop runs the fetcher until the pool stops fetching: it makes the
// fetcher's moves and waits for the events between them.
func (f *fetcher) loop() {
	defer f.p.fetchWG.Done()
	wake, unsubscribe := f.p.wake.Wait(f.r.name)
	defer unsubscribe()
	look := time.NewTimer(0) // look again: a poll, a due time, a back-off
	defer look.Stop()
	gather := time.NewTimer(time.Hour)
	gather.Stop()
	defer gather.Stop()
	for {
		switch m, d := f.runOnce(); m {
		case moveGather:
			resetTimer(gather, d)
		case moveBackOff:
			resetTimer(look, d)
		case moveLease:
			gather.Stop()
			resetTimer(look, d)
		}
		select {
		case <-f.p.stopFetch:
			return
		case <-wake:
			f.woken()
		case <-look.C:
			f.woken()
			look.Reset(f.p.opts.PollInterval)
		case <-gather.C:
			f.gatherEnded()
		case <-f.r.done:
			f.finished(1 + drain(f.r.done))
		}
	}
}

// drain takes every value waiting on ch and returns how many it took.
func drain(ch <-chan struct{}) int {
	n := 0
	for {
		select {
		case <-ch:
			n++
		default:
			return n
		}
	}
}

// resetTimer stops t, drops a value it may have sent, and resets it to d.
func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	select {
	case <-t.C:
	default:
	}
	t.Reset(d)
}
