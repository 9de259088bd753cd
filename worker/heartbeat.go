package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spooljobs/spool/queue"
)

// heartbeatLoop extends the leases of held jobs every HeartbeatInterval.
func (p *Pool) heartbeatLoop() {
	defer p.loopsWG.Done()
	t := time.NewTicker(p.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stopLoops:
			return
		case <-t.C:
			if err := p.Heartbeat(context.Background()); err != nil {
				p.logger.Error("spool: heartbeat failed", "err", err)
			}
		}
	}
}

// Heartbeat extends the leases of the jobs this pool holds, cancels the
// handlers of jobs an operator cancelled or whose lease was lost, and lets
// the leases of handlers hung past their timeout run out (so the rescuer
// takes them). On a store that implements queue.ProgressStore it writes
// the latest progress the handlers reported (ReportProgress) since the
// last heartbeat, and on one that implements queue.ProcessStore it then
// records the pool's process row (processes.go). The pool calls it every
// HeartbeatInterval.
func (p *Pool) Heartbeat(ctx context.Context) error {
	return errors.Join(p.extendLeases(ctx), p.writeProgress(ctx), p.recordProcess(ctx))
}

// extendLeases is Heartbeat's work on the leases.
func (p *Pool) extendLeases(ctx context.Context) error {
	now := p.q.Now()
	var refs []queue.LeaseRef
	tokens := map[int64]int64{}
	p.mu.Lock()
	for _, a := range p.active {
		// A job whose outcome waits for the settler keeps its lease,
		// however long its handler took.
		if a.released || (!a.finished && !a.deadline.IsZero() && now.After(a.deadline)) {
			continue
		}
		refs = append(refs, queue.LeaseRef{JobID: a.job.ID, Token: a.job.LeaseToken})
		tokens[a.job.ID] = a.job.LeaseToken
	}
	p.mu.Unlock()
	if len(refs) == 0 {
		return nil
	}
	res, err := p.store.Extend(ctx, refs, now.Add(p.opts.LeaseDuration))
	if errors.Is(err, queue.ErrCorrupt) && len(refs) > 1 {
		// A damaged page under some of the jobs must not cost the others
		// their leases (they would be rescued and run twice).
		res, err = p.extendEach(ctx, refs, now.Add(p.opts.LeaseDuration))
	} else if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range res.CancelRequested {
		if a := p.held(id, tokens[id]); a != nil {
			a.cancelRequested = true
			if a.cancel != nil {
				a.cancel(ErrCancelled)
			}
		}
	}
	for _, id := range res.Lost {
		// A job the handler completed in its own transaction (CompleteTx)
		// is gone once that commits, which may be before the handler's
		// Commit returns: cancelling it then would fail a Commit that
		// took effect (on PostgreSQL the driver abandons it).
		if a := p.held(id, tokens[id]); a != nil && a.cancel != nil && !a.completedInTx {
			a.cancel(queue.ErrLeaseLost)
		}
	}
	return err
}

// extendEach extends the leases one job at a time, after extending them
// together failed with ErrCorrupt. It returns what the extensions that
// worked found, and an error naming the jobs whose leases it could not
// extend (they expire, and are rescued if their rows can be read).
func (p *Pool) extendEach(ctx context.Context, refs []queue.LeaseRef, until time.Time) (queue.ExtendResult, error) {
	var res queue.ExtendResult
	var failed []int64
	var first error
	for _, ref := range refs {
		r, err := p.store.Extend(ctx, []queue.LeaseRef{ref}, until)
		if err != nil {
			failed = append(failed, ref.JobID)
			first = cmp.Or(first, err)
			continue
		}
		res.CancelRequested = append(res.CancelRequested, r.CancelRequested...)
		res.Lost = append(res.Lost, r.Lost...)
	}
	if first != nil {
		return res, fmt.Errorf("extending the leases of jobs %v (of %d; the others were extended): %w", failed, len(refs), first)
	}
	return res, nil
}
