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
// on the event log (in bounded steps) and prunes the event log, when this
// pool leads maintenance (see lead). It logs what fails and goes on with
// the rest.
func (p *Pool) maintainOnce(ctx context.Context) {
	if !p.lead(ctx) {
		return
	}
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

// maintenanceRole is the role pools elect a leader for, on a store that
// implements queue.Leader.
const maintenanceRole = "maintenance"

// leaderTTL is the term a maintenance leader is granted at each round:
// two rounds, so that one late round does not lose the role, and a
// leader that stopped without resigning (its host died) is replaced
// within three rounds.
func (p *Pool) leaderTTL() time.Duration { return 2 * p.opts.MaintenanceInterval }

// lead reports whether this pool runs this maintenance round: on a store
// that implements queue.Leader, when it holds (takes or renews) the role
// "maintenance" under its id; on any other store, always (every pool
// maintains, as maintenance is safe concurrently). When the election
// fails it maintains all the same, for the same reason. It logs when the
// pool gains or loses the role.
func (p *Pool) lead(ctx context.Context) bool {
	l, ok := p.store.(queue.Leader)
	if !ok {
		p.leading.Store(true)
		return true
	}
	now := p.q.Now()
	lead, err := l.Lead(ctx, maintenanceRole, p.id, now, p.leaderTTL())
	if err != nil {
		p.logger.Error("spool: maintenance leader election failed; maintaining this round anyway", "err", err)
		return true
	}
	switch was := p.leading.Swap(lead); {
	case lead && !was:
		p.logger.Info("spool: this pool leads maintenance (rescue, pruning)", "name", p.opts.Name, "pool_id", p.id)
	case !lead && was:
		p.logger.Info("spool: another pool leads maintenance now", "name", p.opts.Name, "pool_id", p.id)
	}
	return lead
}

// resign gives up the maintenance role at Stop, if this pool holds it, so
// that another pool takes it at its next round rather than after the
// term. ctx is Stop's: it may have ended, the resignation is tried anyway
// for a few seconds.
func (p *Pool) resign(ctx context.Context) {
	l, ok := p.store.(queue.Leader)
	if !ok || !p.leading.Swap(false) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := l.Resign(ctx, maintenanceRole, p.id); err != nil {
		p.logger.Warn("spool: resigning maintenance leadership failed; another pool takes it when the term ends",
			"err", err, "term", p.leaderTTL())
	}
}

// Leading reports whether this pool runs the maintenance rounds: on a
// store that implements queue.Leader, whether it held the role at its
// last round (false before its first); on any other store, true once it
// ran one (every pool maintains). For operators and tests.
func (p *Pool) Leading() bool { return p.leading.Load() }

// Prune deletes completed, cancelled and dead jobs past their retention
// (KeepCompleted, KeepCancelled, KeepDead, QueueKeep, KindKeep), processed
// keys older than KeepProcessed, unique periods (queue.NewJob.UniqueFor)
// that ended, throughput counters older
// than a day and, on a queue.ProcessStore, the process rows of pools that
// stopped heartbeating (stale: see ProcessStaleHeartbeats). It deletes in transactions of at most pruneBatch rows of a
// kind, as many as it takes (up to pruneRounds, the rest at the next run),
// so that a pool keeping jobs or processed keys faster than one batch per
// MaintenanceInterval still keeps up. It returns how many jobs and
// processed keys it deleted. The pool calls it every MaintenanceInterval
// while it leads maintenance (Leading); a direct call always prunes.
func (p *Pool) Prune(ctx context.Context) (int, error) {
	now := p.q.Now()
	params := queue.PruneParams{
		CompletedBefore:       before(now, p.opts.KeepCompleted),
		CancelledBefore:       before(now, p.opts.KeepCancelled),
		DeadBefore:            before(now, p.opts.KeepDead),
		MetricsBefore:         now.Add(-24 * time.Hour),
		ProcessedBefore:       now.Add(-p.opts.KeepProcessed),
		UniqueBefore:          now,
		RateBucketsFullBefore: now,
		BatchesBefore:         before(now, p.opts.KeepBatches),
		Rules:                 p.pruneRules(now),
		Limit:                 pruneBatch,
	}
	if ps, ok := p.store.(queue.ProcessStore); ok {
		if _, err := ps.PruneProcesses(ctx, now); err != nil {
			p.logger.Error("spool: pruning stale process rows failed", "err", err)
		}
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
