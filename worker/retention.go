package worker

import (
	"fmt"
	"slices"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Keep is how long the finished jobs of a queue (Options.QueueKeep) or of
// a kind (Options.KindKeep) are kept after they finished, in place of the
// pool's KeepCompleted, KeepCancelled and KeepDead. A zero field takes
// the next level's value: a kind's field the queue's, a queue's field the
// pool's. KeepForever keeps the jobs until an operator deletes them.
type Keep struct {
	// Completed keeps completed jobs (which are otherwise deleted when
	// acknowledged) this long.
	Completed time.Duration
	// Cancelled keeps cancelled jobs this long.
	Cancelled time.Duration
	// Dead keeps dead jobs this long after they died. A dead job that
	// blocks its ordering key is kept regardless (see
	// queue.PruneParams.DeadBefore).
	Dead time.Duration
}

// KeepForever, as a Keep duration or Options.KeepDead, keeps jobs until an
// operator deletes them.
const KeepForever time.Duration = -1

// validKeep checks the retention options.
func validKeep(o *Options) error {
	if o.KeepDead < 0 && o.KeepDead != KeepForever {
		return fmt.Errorf("worker: Options.KeepDead %s is negative (KeepForever is -1)", o.KeepDead)
	}
	for _, m := range []struct {
		name string
		keep map[string]Keep
	}{{"QueueKeep", o.QueueKeep}, {"KindKeep", o.KindKeep}} {
		for name, k := range m.keep {
			if err := queue.ValidName(name); err != nil {
				return fmt.Errorf("worker: Options.%s: %w", m.name, err)
			}
			for _, d := range []time.Duration{k.Completed, k.Cancelled, k.Dead} {
				if d < 0 && d != KeepForever {
					return fmt.Errorf("worker: Options.%s[%q]: %s is negative (KeepForever is -1)", m.name, name, d)
				}
			}
		}
	}
	return nil
}

// or is k with its zero fields taken from def.
func (k Keep) or(def Keep) Keep {
	if k.Completed == 0 {
		k.Completed = def.Completed
	}
	if k.Cancelled == 0 {
		k.Cancelled = def.Cancelled
	}
	if k.Dead == 0 {
		k.Dead = def.Dead
	}
	return k
}

// poolKeep is the pool's own retention.
func (p *Pool) poolKeep() Keep {
	return Keep{Completed: p.opts.KeepCompleted, Cancelled: p.opts.KeepCancelled, Dead: p.opts.KeepDead}
}

// keepFor is the retention of jobs of kind in queue name.
func (p *Pool) keepFor(name, kind string) Keep {
	k := p.poolKeep()
	if q, ok := p.opts.QueueKeep[name]; ok {
		k = q.or(k)
	}
	if kk, ok := p.opts.KindKeep[kind]; ok {
		k = kk.or(k)
	}
	return k
}

// keepCompleted reports whether a completed job of kind in queue name is
// kept (until Prune removes it) rather than deleted at once.
func (p *Pool) keepCompleted(name, kind string) bool {
	if p.opts.QueueKeep == nil && p.opts.KindKeep == nil {
		return p.opts.KeepCompleted != 0
	}
	return p.keepFor(name, kind).Completed != 0
}

// before is the cut-off of a retention d at now: zero (keep) for
// KeepForever and for 0.
func before(now time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return now.Add(-d)
}

// pruneRules turns QueueKeep and KindKeep into the store's rules, most
// specific first: each kind in each queue that both name, each kind, each
// queue.
func (p *Pool) pruneRules(now time.Time) []queue.PruneRule {
	queues := sortedKeys(p.opts.QueueKeep)
	kinds := sortedKeys(p.opts.KindKeep)
	rule := func(name, kind string) queue.PruneRule {
		k := p.poolKeep()
		if name != "" {
			k = p.opts.QueueKeep[name].or(k)
		}
		if kind != "" {
			k = p.opts.KindKeep[kind].or(k)
		}
		return queue.PruneRule{Queue: name, Kind: kind, CompletedBefore: before(now, k.Completed),
			CancelledBefore: before(now, k.Cancelled), DeadBefore: before(now, k.Dead)}
	}
	var rules []queue.PruneRule
	for _, kind := range kinds {
		for _, name := range queues {
			rules = append(rules, rule(name, kind))
		}
	}
	for _, kind := range kinds {
		rules = append(rules, rule("", kind))
	}
	for _, name := range queues {
		rules = append(rules, rule(name, ""))
	}
	return rules
}

func sortedKeys(m map[string]Keep) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
