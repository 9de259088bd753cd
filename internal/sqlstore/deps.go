package sqlstore

import (
	"encoding/json"
	"strconv"

	"github.com/spooljobs/spool/queue"
)

// Dependency outcomes: how a parent ended, as both stores record it on the
// parent's dependency rows. Completed and cancelled reuse the state codes.
const (
	DepCompleted = CodeCompleted
	DepCancelled = CodeCancelled
	DepDead      = 6
	DepDeleted   = 7
)

// DepState is the state a recorded outcome stands for ("" for a parent
// deleted before it finished, or no outcome).
func DepState(outcome int64) queue.State {
	switch outcome {
	case DepCompleted:
		return queue.StateCompleted
	case DepCancelled:
		return queue.StateCancelled
	case DepDead:
		return queue.StateDead
	}
	return ""
}

// IDList encodes ids as a JSON array, the form the stores' queries take a
// set of ids in.
func IDList(ids []int64) string {
	b := make([]byte, 0, 2+len(ids)*8)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

// Completions encodes completed parents as a JSON array of objects with
// their id and, where they recorded one, their output ("out"): the form
// the stores' resolution of completed parents takes. An output that is
// not valid JSON is left out.
func Completions(ids []int64, outputs [][]byte) string {
	b := []byte{'['}
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, id, 10)
		if out := outputs[i]; out != nil && json.Valid(out) {
			b = append(b, `,"out":`...)
			b = append(b, out...)
		}
		b = append(b, '}')
	}
	return string(append(b, ']'))
}
