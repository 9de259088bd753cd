package sqlite

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// The SQL literals of the states spell their codes, and name the states
// in stateNames' order.
func TestStateLiterals(t *testing.T) {
	t.Parallel()
	for code, lit := range map[int]string{
		stPending: pendingSQL, stScheduled: scheduledSQL, stRunning: runningSQL,
		stCompleted: completedSQL, stCancelled: cancelledSQL, stBlocked: blockedSQL,
	} {
		require.Equal(t, strconv.Itoa(code), lit)
		require.Equal(t, code, stateCode(stateNames[code]))
	}
	require.Len(t, stateNames, 6)
}
