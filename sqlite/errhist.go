package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spooljobs/spool/queue"
)

// The errors column holds a job's error history as a JSON array, oldest
// first, bounded by queue.AppendAttemptError. Where attempts were dropped,
// an entry {"dropped": n} stands in their place; rows written before the
// bound have none and read as they are.
type storedAttemptError struct {
	queue.AttemptError
	Dropped int `json:"dropped,omitempty"`
}

type droppedMarker struct {
	Dropped int `json:"dropped"`
}

// decodeErrors reads an errors column.
func decodeErrors(s string) ([]queue.AttemptError, int, error) {
	var stored []storedAttemptError
	if err := json.Unmarshal([]byte(s), &stored); err != nil {
		return nil, 0, err
	}
	var (
		kept    []queue.AttemptError
		dropped int
	)
	for _, e := range stored {
		if e.Dropped > 0 {
			dropped += e.Dropped
			continue
		}
		kept = append(kept, e.AttemptError)
	}
	return kept, dropped, nil
}

// encodeErrors writes an errors column, with the dropped attempts' marker
// where queue.Job.ErrorsGap puts them. Times are stored in UTC; HTML
// characters are not escaped (the column is data, not a page).
func encodeErrors(kept []queue.AttemptError, dropped int) (string, error) {
	j := queue.Job{Errors: kept, ErrorsDropped: dropped}
	gap := j.ErrorsGap()
	out := make([]any, 0, len(kept)+1)
	for i, e := range kept {
		if i == gap {
			out = append(out, droppedMarker{dropped})
		}
		e.At = e.At.UTC()
		out = append(out, e)
	}
	if gap == len(kept) {
		out = append(out, droppedMarker{dropped})
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// sqlSettleErrors reads the error history of a job whose lease still holds.
const sqlSettleErrors = `SELECT errors FROM spool_jobs WHERE id = ? AND lease_token = ? AND state = ` + runningSQL

// appendAttemptError returns the errors column of st's job with st.Error
// added by queue.AppendAttemptError, which bounds the history; nil (keep
// the column) when st has no error or its lease is lost, where the
// settle's own statement then changes nothing.
func appendAttemptError(ctx context.Context, x *xtx, st queue.Settlement) (any, error) {
	if st.Error == nil {
		return nil, nil
	}
	var stored sql.NullString
	switch err := x.queryRow(ctx, sqlSettleErrors, st.JobID, st.Token).Scan(&stored); err {
	case nil:
	case sql.ErrNoRows:
		return nil, nil
	default:
		return nil, err
	}
	var (
		kept    []queue.AttemptError
		dropped int
	)
	if stored.Valid && stored.String != "" {
		var err error
		if kept, dropped, err = decodeErrors(stored.String); err != nil {
			return nil, fmt.Errorf("sqlite: job %d: errors: %w", st.JobID, err)
		}
	}
	kept, dropped = queue.AppendAttemptError(kept, dropped, *st.Error)
	enc, err := encodeErrors(kept, dropped)
	if err != nil {
		return nil, fmt.Errorf("sqlite: job %d: errors: %w", st.JobID, err)
	}
	return enc, nil
}
