package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/spooljobs/spool/internal/jobcodec"
	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// sqlSettleErrors reads the error history of a job whose lease still
// holds, and locks the row until the settle's own statement rewrites it.
const sqlSettleErrors = `SELECT errors FROM spool.jobs WHERE id = $1 AND lease_token = $2 AND state = ` + runningSQL + `
  FOR UPDATE`

// appendAttemptError returns the errors column of st's job with st.Error
// added by queue.AppendAttemptError, which bounds the history; nil (keep
// the column) when st has no error or its lease is lost, where the
// settle's own statement then changes nothing.
func appendAttemptError(ctx context.Context, x *xtx, st queue.Settlement) (any, error) {
	if st.Error == nil {
		return nil, nil
	}
	var stored sql.NullString
	found, err := sqlstore.Found(x.queryRow(ctx, sqlSettleErrors, st.JobID, st.Token).Scan(&stored))
	if !found || err != nil {
		return nil, err
	}
	e := *st.Error
	// The stored entries' times are in the database's frame (clock.go),
	// and so is the new one's; scanJob shifts them all back.
	e.At = x.f.in(e.At)
	enc, err := jobcodec.AppendError(stored.String, e)
	if err != nil {
		return nil, fmt.Errorf("postgres: job %d: errors: %w", st.JobID, err)
	}
	return enc, nil
}
