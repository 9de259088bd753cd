package sqlstore

import (
	"database/sql"
	"fmt"

	"github.com/spooljobs/spool/queue"
)

// The codes of a live job's state in the jobs tables of both stores' schemas
// (their CHECK constraints and partial indexes name the same numbers). A
// dead job has no code: it lives in the dead table. Queries name states as
// SQL literals that spell these codes, each store's own constants.
const (
	CodePending   = 0
	CodeScheduled = 1
	CodeRunning   = 2
	CodeCompleted = 3
	CodeCancelled = 4
	CodeBlocked   = 5
)

// stateNames names the codes, in code order.
var stateNames = [...]queue.State{queue.StatePending, queue.StateScheduled, queue.StateRunning, queue.StateCompleted, queue.StateCancelled, queue.StateBlocked}

// StateCode returns the code of a live job's state, -1 for any other
// (dead, or not a state).
func StateCode(s queue.State) int {
	for i, n := range stateNames {
		if n == s {
			return i
		}
	}
	return -1
}

// StateName returns the state of a code, and false when code is no
// state's.
func StateName(code int64) (queue.State, bool) {
	if code < 0 || code >= int64(len(stateNames)) {
		return "", false
	}
	return stateNames[code], true
}

// JobState is the state of job id as a job scan read it: dead for a row of
// the dead table, else the state of its code, or an error for a code that
// names no state.
func JobState(id int64, dead bool, code sql.NullInt64) (queue.State, error) {
	if dead {
		return queue.StateDead, nil
	}
	if s, ok := StateName(code.Int64); ok && code.Valid {
		return s, nil
	}
	return "", fmt.Errorf("job %d has unknown state %d", id, code.Int64)
}
