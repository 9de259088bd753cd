package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/spooljobs/spool/internal/jobcodec"
	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

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
	found, err := sqlstore.Found(x.queryRow(ctx, sqlSettleErrors, st.JobID, st.Token).Scan(&stored))
	if !found || err != nil {
		return nil, err
	}
	enc, err := jobcodec.AppendError(stored.String, *st.Error)
	if err != nil {
		return nil, fmt.Errorf("sqlite: job %d: errors: %w", st.JobID, err)
	}
	return enc, nil
}
