package sqlite

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// The SQL literals of the states spell their codes (sqlstore's).
func TestStateLiterals(t *testing.T) {
	t.Parallel()
	for code, lit := range map[int]string{
		stPending: pendingSQL, stScheduled: scheduledSQL, stRunning: runningSQL,
		stCompleted: completedSQL, stCancelled: cancelledSQL, stBlocked: blockedSQL,
	} {
		require.Equal(t, strconv.Itoa(code), lit)
	}
	require.Equal(t, []int{stPending, stScheduled, stRunning}, []int{stPending, stPending + 1, stPending + 2},
		"keyHeadRangeSQL: the head's states follow each other")
}
