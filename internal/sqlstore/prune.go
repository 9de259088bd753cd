package sqlstore

import (
	"encoding/json"
	"time"

	"github.com/spooljobs/spool/queue"
)

// PrunePass is one delete of a store's Prune: the jobs in State (completed,
// cancelled or dead) finished before Before that match Queue and Kind
// ("" matches any) and none of the rules in Excluded, a JSON array of
// [queue, kind] pairs: the rules that come first (every rule, for the
// pass of the default cut-offs). Stores match them with their JSON
// functions.
type PrunePass struct {
	State       queue.State
	Before      time.Time
	Queue, Kind string
	Excluded    string
}

// PrunePasses returns the deletes that apply p's job cut-offs and rules,
// skipping zero cut-offs: for each state, one pass per rule in order,
// then the default's.
func PrunePasses(p queue.PruneParams) []PrunePass {
	var passes []PrunePass
	pairs := make([][2]string, 0, len(p.Rules))
	for _, r := range p.Rules {
		pairs = append(pairs, [2]string{r.Queue, r.Kind})
	}
	excluded := func(n int) string {
		b, _ := json.Marshal(pairs[:n]) // strings only: cannot fail
		return string(b)
	}
	for _, st := range []queue.State{queue.StateCompleted, queue.StateCancelled, queue.StateDead} {
		cut := func(completed, cancelled, dead time.Time) time.Time {
			switch st {
			case queue.StateCompleted:
				return completed
			case queue.StateCancelled:
				return cancelled
			}
			return dead
		}
		for i, r := range p.Rules {
			if before := cut(r.CompletedBefore, r.CancelledBefore, r.DeadBefore); !before.IsZero() {
				passes = append(passes, PrunePass{State: st, Before: before, Queue: r.Queue, Kind: r.Kind, Excluded: excluded(i)})
			}
		}
		if before := cut(p.CompletedBefore, p.CancelledBefore, p.DeadBefore); !before.IsZero() {
			passes = append(passes, PrunePass{State: st, Before: before, Excluded: excluded(len(pairs))})
		}
	}
	return passes
}
