package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Rescue settles jobs whose lease expired (their worker crashed, was
// killed, or hung past its timeout): each is retried after its backoff with
// the attempt counted, or goes dead when it has no attempts left. It
// returns how many it rescued. The pool calls it every MaintenanceInterval
// while it leads maintenance (Leading); any pool on the store rescues any
// job, and a direct call always rescues.
//
// Leases end at wall-clock times. When the wall clock stepped forward
// (more than a second beyond the monotonic clock, Options.Monotonic) since
// the last call, Rescue rescues nothing for a LeaseDuration of monotonic
// time, so that live workers' heartbeats extend their leases from the new
// time first; it logs the step once. See the notes in clock.go for what
// the guard does not cover.
func (p *Pool) Rescue(ctx context.Context) (int, error) {
	if p.rescuePaused(p.q.Now()) {
		return 0, nil
	}
	total := 0
	for {
		now := p.q.Now()
		jobs, err := p.store.Expired(ctx, now, 500)
		if err != nil || len(jobs) == 0 {
			return total, err
		}
		batch := make([]queue.Settlement, len(jobs))
		for i, j := range jobs {
			lost := fmt.Errorf("lease expired at %s: worker %s stopped heartbeating (crashed, killed or hung)",
				j.LeaseUntil.UTC().Format(time.RFC3339), j.LeasedBy)
			d := queue.Classify(lost, j.Attempt, j.MaxAttempts, p.backoffFor(j))
			batch[i] = queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, OrderKey: j.OrderKey, Outcome: d.Outcome,
				Now: now, RunAt: now.Add(d.Delay), Reason: d.Reason, IfExpired: true,
				Error: &queue.AttemptError{Attempt: j.Attempt, At: now, Message: lost.Error()}}
		}
		errs, err := p.store.Settle(ctx, nil, batch)
		if err != nil {
			return total, err
		}
		for i, e := range errs {
			if e == nil {
				total++
				p.logger.Warn("spool: rescued job with expired lease", "job", jobs[i].ID, "kind", jobs[i].Kind,
					"outcome", batch[i].Outcome.String())
				if p.obs != nil && p.obs.Rescued != nil {
					p.obs.Rescued(ctx, queue.RescueEvent{Job: jobs[i], Outcome: batch[i].Outcome})
				}
			}
		}
		if len(jobs) < 500 {
			return total, nil
		}
	}
}
