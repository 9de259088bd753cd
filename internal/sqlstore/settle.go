package sqlstore

import (
	"fmt"

	"github.com/spooljobs/spool/queue"
)

// LeaseLost is the answer to a settlement whose lease no longer held.
func LeaseLost(id int64, outcome queue.Outcome) error {
	return fmt.Errorf("settle job %d (%s): %w", id, outcome, queue.ErrLeaseLost)
}

// A Settle call deletes the jobs of plain completions (complete, not
// kept) a group at a time, one statement per group; the other settlements
// are settled one by one, in order.

// DeletesJob reports whether st is a completion that deletes its job.
func DeletesJob(st queue.Settlement) bool { return st.Outcome == queue.OutcomeComplete && !st.Keep }

// DeleteGroups groups the completions among settlements that delete their
// job by lease token (a lease hands all its jobs one token, so a call
// holds few), at most max to a group (0: no bound), each group in
// settlement order and the groups in the order of their first settlement.
// A group is a list of indexes into settlements; grouped marks them. A job
// that also has another kind of settlement in the call is left out of
// every group: its settlements are settled one by one, in order, so that
// the first wins.
func DeleteGroups(settlements []queue.Settlement, max int) (groups [][]int, grouped []bool) {
	grouped = make([]bool, len(settlements))
	var inOrder map[int64]bool
	for _, st := range settlements {
		if !DeletesJob(st) {
			if inOrder == nil {
				inOrder = map[int64]bool{}
			}
			inOrder[st.JobID] = true
		}
	}
	groupable := func(k int) bool {
		st := settlements[k]
		return !grouped[k] && DeletesJob(st) && !inOrder[st.JobID]
	}
	for i := range settlements {
		if !groupable(i) {
			continue
		}
		var group []int
		for k := i; k < len(settlements) && (max <= 0 || len(group) < max); k++ {
			if groupable(k) && settlements[k].Token == settlements[i].Token {
				group = append(group, k)
			}
		}
		for _, k := range group {
			grouped[k] = true
		}
		groups = append(groups, group)
	}
	return groups, grouped
}

// MarkDeleted answers the settlements of group, whose jobs one statement
// deleted where their lease still held: errs is nil for those among
// deleted and LeaseLost for the others. A job settled twice in a group
// was deleted once: its first settlement takes it.
func MarkDeleted(settlements []queue.Settlement, group []int, deleted []int64, errs []error) {
	held := make(map[int64]bool, len(deleted))
	for _, id := range deleted {
		held[id] = true
	}
	for _, k := range group {
		if id := settlements[k].JobID; held[id] {
			delete(held, id)
			errs[k] = nil
		} else {
			errs[k] = LeaseLost(id, queue.OutcomeComplete)
		}
	}
}
