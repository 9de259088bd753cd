package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spooljobs/spool/queue"
)

// settleReq is an outcome on its way to the settler.
type settleReq struct {
	s queue.Settlement
}

// settle hands an outcome to the settler. After Stop, the result of a
// handler that ignored its cancelled context is dropped: its job was
// released already.
func (p *Pool) settle(s queue.Settlement) {
	p.settleMu.RLock()
	defer p.settleMu.RUnlock()
	if p.settleOff {
		p.logger.Warn("spool: result after stop dropped; the job was released", "job", s.JobID)
		return
	}
	p.mu.Lock()
	if a := p.held(s.JobID, s.Token); a != nil {
		a.finished = true
	}
	p.mu.Unlock()
	p.settleCh <- settleReq{s: s}
}

// settleLoop acknowledges outcomes in batches: it takes every outcome
// waiting and settles them in one store call (one transaction).
func (p *Pool) settleLoop() {
	defer close(p.settleDone)
	batch := make([]queue.Settlement, 0, 256)
	for req := range p.settleCh {
		batch = append(batch[:0], req.s)
	more:
		for len(batch) < cap(batch) {
			select {
			case req, ok := <-p.settleCh:
				if !ok {
					break more
				}
				batch = append(batch, req.s)
			default:
				break more
			}
		}
		p.settleBatch(batch)
	}
}

// settleBatch writes a batch of outcomes in one store call, then forgets
// the jobs, logs what could not be written, and wakes the queues whose
// next work the outcomes changed.
func (p *Pool) settleBatch(batch []queue.Settlement) {
	keep := p.dropReleased(batch)
	if len(keep) == 0 {
		return
	}
	errs := p.writeOutcomes(keep)
	p.settled(keep, errs)
	p.wakeAfterSettle(keep)
}

// dropReleased drops from batch the outcomes of jobs Stop already
// released, and forgets those jobs; it returns the rest (reusing batch).
func (p *Pool) dropReleased(batch []queue.Settlement) []queue.Settlement {
	p.mu.Lock()
	defer p.mu.Unlock()
	keep := batch[:0]
	for _, s := range batch {
		if a := p.held(s.JobID, s.Token); a != nil && a.released {
			delete(p.active, s.JobID)
			continue
		}
		keep = append(keep, s)
	}
	return keep
}

// writeOutcomes settles batch in the store and returns each outcome's
// error (nil entries for a batch the store took whole).
//
// A failing store (busy past its timeout, full, read-only) is tried again
// until it takes the outcomes: meanwhile the heartbeat keeps the leases,
// so a job that succeeded is not rescued as a failure. Once the pool
// stops, five tries; then the leases expire and the rescuer runs the jobs
// again. Nothing is lost either way. A damaged page (ErrCorrupt) does not
// heal: the outcomes are settled one by one instead, so that those on
// healthy pages are not held up by the rest.
func (p *Pool) writeOutcomes(batch []queue.Settlement) []error {
	for attempt := 1; ; attempt++ {
		errs, err := p.storeSettle(batch)
		if errors.Is(err, queue.ErrCorrupt) {
			return p.settleEach(batch)
		}
		if !p.retrySettle(err, attempt) {
			if err != nil {
				p.logger.Error("spool: settle failed; the jobs run again after their leases expire", "jobs", len(batch), "err", err)
			}
			return errs
		}
		p.logger.Warn("spool: settle failed; retrying", "jobs", len(batch), "attempt", attempt, "err", err)
		time.Sleep(settleRetryWait(attempt))
	}
}

// settled forgets the jobs of batch, whose outcomes were written or
// failed with errs, and logs the failures.
func (p *Pool) settled(batch []queue.Settlement, errs []error) {
	var corrupt []int64
	p.mu.Lock()
	for i, e := range errs {
		switch {
		case errors.Is(e, queue.ErrCorrupt):
			corrupt = append(corrupt, batch[i].JobID)
			continue
		case e != nil && !errors.Is(e, queue.ErrLeaseLost): // settled one by one
			p.logger.Error("spool: settle failed; the job runs again after its lease expires", "job", batch[i].JobID, "err", e)
			continue
		}
		if a := p.held(batch[i].JobID, batch[i].Token); e != nil && (a == nil || !a.completedInTx) {
			p.logger.Warn("spool: lost lease before settling (the job was rescued or cancelled meanwhile)", "job", batch[i].JobID, "err", e)
		}
	}
	for _, s := range batch {
		p.forget(s.JobID, s.Token)
	}
	p.mu.Unlock()
	if len(corrupt) > 0 {
		file := p.dbFile()
		p.logger.Error(fmt.Sprintf("spool: the database file is corrupt: the outcomes of %d jobs could not be written; "+
			"they run again if their rows can be read once their leases expire. "+
			"Check the file with `spool check -db %s` (or PRAGMA integrity_check), then restore it from a backup, "+
			"or salvage what is readable with `sqlite3 %s .recover`", len(corrupt), file, file),
			"jobs", corrupt, "file", file)
	}
}

// wakeAfterSettle lets the fetchers of the queues in batch look again
// where an outcome changed when the queue next has work: a job that runs
// again (at once or later), a job whose end lets the next job of its
// ordering key run, or a job that frees a slot of its queue's MaxRunning.
func (p *Pool) wakeAfterSettle(batch []queue.Settlement) {
	woken := ""
	for _, s := range batch {
		switch {
		case s.Outcome == queue.OutcomeRetry, s.Outcome == queue.OutcomeSnooze, s.Outcome == queue.OutcomeRelease,
			s.OrderKey != "", p.limited(s.Queue):
			if s.Queue != woken {
				p.wake.Notify(s.Queue)
				woken = s.Queue
			}
		}
	}
}

// limited reports whether the queue's last lease obeyed a MaxRunning
// limit (so settling a job frees a slot worth leasing).
func (p *Pool) limited(name string) bool {
	for _, r := range p.queues {
		if r.name == name {
			return r.limited.Load()
		}
	}
	return false
}

// settleEach settles batch one outcome at a time, after the batch as a
// whole failed with ErrCorrupt, and returns each outcome's error.
func (p *Pool) settleEach(batch []queue.Settlement) []error {
	out := make([]error, len(batch))
	for i := range batch {
		for attempt := 1; ; attempt++ {
			errs, err := p.storeSettle(batch[i : i+1])
			if err == nil && len(errs) > 0 {
				err = errs[0]
			}
			out[i] = err
			// A passing failure (busy, full) is tried again, as the whole
			// batch is: given up, a succeeded job would run again.
			if !p.retrySettle(err, attempt) {
				break
			}
			time.Sleep(settleRetryWait(attempt))
		}
	}
	return out
}

// retrySettle reports whether a settle that failed with err (nil: it did
// not fail) on its attempt-th try is tried again. A store that keeps
// failing for a passing reason (busy past its timeout, full, read-only) is
// tried until it takes the outcomes, or five times once the pool stops.
// Errors that do not pass are not: a damaged page (ErrCorrupt), a deleted
// database file (ErrFileGone), and a lease lost meanwhile.
func (p *Pool) retrySettle(err error, attempt int) bool {
	switch {
	case err == nil, errors.Is(err, queue.ErrCorrupt), errors.Is(err, queue.ErrFileGone), errors.Is(err, queue.ErrLeaseLost):
		return false
	}
	return attempt < 5 || !p.isStopping()
}

// settleRetryWait is the wait before a settle's next try.
func settleRetryWait(attempt int) time.Duration {
	return min(time.Duration(attempt)*100*time.Millisecond, 2*time.Second)
}

// storeSettle is the pool's store call that settles batch (one
// transaction), reported to the Observer when there is one. A job the
// handler completed in its own transaction (CompleteTx) is gone when the
// pool settles it: the Observer sees that settlement as the completion it
// was, not as a lost lease.
func (p *Pool) storeSettle(batch []queue.Settlement) ([]error, error) {
	if p.obs == nil || p.obs.Settled == nil {
		return p.store.Settle(context.Background(), nil, batch)
	}
	kinds := make([]string, len(batch))
	var inTx []bool
	p.mu.Lock()
	for i, s := range batch {
		if a := p.held(s.JobID, s.Token); a != nil {
			kinds[i] = a.job.Kind
			if a.completedInTx {
				if inTx == nil {
					inTx = make([]bool, len(batch))
				}
				inTx[i] = true
			}
		}
	}
	p.mu.Unlock()
	began := time.Now()
	errs, err := p.store.Settle(context.Background(), nil, batch)
	e := queue.SettleEvent{Settlements: batch, Kinds: kinds, Errs: errs, Err: err, Duration: time.Since(began)}
	if inTx != nil && errs != nil {
		e.Errs = make([]error, len(errs))
		for i, x := range errs {
			if !inTx[i] || !errors.Is(x, queue.ErrLeaseLost) {
				e.Errs[i] = x
			}
		}
	}
	p.obs.Settled(context.Background(), e)
	return errs, err
}
