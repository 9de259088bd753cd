package sqlstore

import (
	"slices"

	"github.com/spooljobs/spool/queue"
)

// UniqueOptions reports whether j's uniqueness asks more of a store than
// the live jobs' unique index: a UniqueFor period or finished states in
// UniqueStates. A job without them costs no extra statement.
func UniqueOptions(j queue.NewJob) bool {
	return j.UniqueKey != "" && (j.UniqueFor > 0 || len(j.UniqueStates) > 0)
}

// UniqueFinished reports which states beyond the live ones hold j's key
// (NewJob.UniqueStates, normalised by Queue).
func UniqueFinished(j queue.NewJob) (completed, cancelled, dead bool) {
	return slices.Contains(j.UniqueStates, queue.StateCompleted),
		slices.Contains(j.UniqueStates, queue.StateCancelled),
		slices.Contains(j.UniqueStates, queue.StateDead)
}
