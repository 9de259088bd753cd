package sqlstore_test

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Every live state has a code and back; dead and unknown states have none.
func TestStateCodes(t *testing.T) {
	t.Parallel()
	codes := map[queue.State]int{
		queue.StatePending: sqlstore.CodePending, queue.StateScheduled: sqlstore.CodeScheduled,
		queue.StateRunning: sqlstore.CodeRunning, queue.StateCompleted: sqlstore.CodeCompleted,
		queue.StateCancelled: sqlstore.CodeCancelled, queue.StateBlocked: sqlstore.CodeBlocked,
	}
	for _, s := range queue.States {
		code, live := codes[s]
		if !live {
			require.Equal(t, -1, sqlstore.StateCode(s), s)
			continue
		}
		require.Equal(t, code, sqlstore.StateCode(s), s)
		name, ok := sqlstore.StateName(int64(code))
		require.True(t, ok)
		require.Equal(t, s, name)
	}
	require.Len(t, codes, len(queue.States)-1) // all but dead
	require.Equal(t, -1, sqlstore.StateCode("nope"))
	_, ok := sqlstore.StateName(6)
	require.False(t, ok)
	_, ok = sqlstore.StateName(-1)
	require.False(t, ok)

	st, err := sqlstore.JobState(7, true, sql.NullInt64{})
	require.NoError(t, err)
	require.Equal(t, queue.StateDead, st)
	st, err = sqlstore.JobState(7, false, sql.NullInt64{Int64: sqlstore.CodeRunning, Valid: true})
	require.NoError(t, err)
	require.Equal(t, queue.StateRunning, st)
	_, err = sqlstore.JobState(7, false, sql.NullInt64{})
	require.EqualError(t, err, "job 7 has unknown state 0")
	_, err = sqlstore.JobState(7, false, sql.NullInt64{Int64: 9, Valid: true})
	require.EqualError(t, err, "job 7 has unknown state 9")
}
