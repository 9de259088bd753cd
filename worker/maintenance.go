package worker

import (
	"context"
	"time"

	"github.com/spooljobs/spool/queue"
)

// maintenanceLoop runs maintainOnce every MaintenanceInterval.
func (p *Pool) maintenanceLoop() {
	defer p.loopsWG.Done()
	t := time.NewTicker(p.opts.MaintenanceInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stopLoops:
			return
		case <-t.C:
			p.maintainOnce(context.Background())
		}
	}
}

// maintainOnce rescues expired leases, prunes, lets subscriptions catch up
// on the event log (in bounded steps) and prunes the event log. It logs
// what fails and goes on with the rest.
func (p *Pool) maintainOnce(ctx context.Context) {
	if _, err := p.Rescue(ctx); err != nil {
		p.logger.Error("spool: rescue failed", "err", err)
	}
	if _, err := p.Prune(ctx); err != nil {
		p.logger.Error("spool: prune failed", "err", err)
	}
	for range 10 {
		n, err := p.q.Topics().DeliverBacklog(ctx, 1000)
		if err != nil {
			p.logger.Error("spool: event backlog delivery failed", "err", err)
		}
		if n == 0 || err != nil {
			break
		}
	}
	if _, err := p.q.Topics().PruneEvents(ctx, 1000); err != nil {
		p.logger.Error("spool: event log pruning failed", "err", err)
	}
}

// Prune deletes completed and cancelled jobs past their retention,
// processed keys older than KeepProcessed and throughput counters older
// than a day. It deletes in transactions of at most pruneBatch rows of a
// kind, as many as it takes (up to pruneRounds, the rest at the next run),
// so that a pool keeping jobs or processed keys faster than one batch per
// MaintenanceInterval still keeps up. It returns how many jobs and
// processed keys it deleted. The pool calls it every MaintenanceInterval.
func (p *Pool) Prune(ctx context.Context) (int, error) {
	now := p.q.Now()
	params := queue.PruneParams{
		CancelledBefore: now.Add(-p.opts.KeepCancelled),
		MetricsBefore:   now.Add(-24 * time.Hour),
		ProcessedBefore: now.Add(-p.opts.KeepProcessed),
		Limit:           pruneBatch,
	}
	if p.opts.KeepCompleted > 0 {
		params.CompletedBefore = now.Add(-p.opts.KeepCompleted)
	}
	total := 0
	for range pruneRounds {
		n, err := p.store.Prune(ctx, params)
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
		params.MetricsBefore = time.Time{} // done in the first round
	}
	return total, nil
}

const (
	// pruneBatch bounds the rows of a kind one prune transaction deletes.
	pruneBatch = 1000
	// pruneRounds bounds the transactions of one Prune: 100 000 rows of
	// a kind per MaintenanceInterval (15 s by default), about 6 700 a
	// second.
	pruneRounds = 100
)
