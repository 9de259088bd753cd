package queue_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// Each outcome counts as the throughput chart shows it: a death with an
// error is also a failed attempt; a death without one (an expiry, an
// operator's action) is not; snoozes, releases and cancellations are no
// attempt at all.
func TestSettlementCounts(t *testing.T) {
	t.Parallel()
	failure := &queue.AttemptError{Message: "boom"}
	for _, c := range []struct {
		st                      queue.Settlement
		completed, failed, dead int
	}{
		{queue.Settlement{Outcome: queue.OutcomeComplete}, 1, 0, 0},
		{queue.Settlement{Outcome: queue.OutcomeComplete, Keep: true}, 1, 0, 0},
		{queue.Settlement{Outcome: queue.OutcomeRetry, Error: failure}, 0, 1, 0},
		{queue.Settlement{Outcome: queue.OutcomeDead, Error: failure}, 0, 1, 1},
		{queue.Settlement{Outcome: queue.OutcomeDead}, 0, 0, 1},
		{queue.Settlement{Outcome: queue.OutcomeSnooze}, 0, 0, 0},
		{queue.Settlement{Outcome: queue.OutcomeRelease}, 0, 0, 0},
		{queue.Settlement{Outcome: queue.OutcomeCancel}, 0, 0, 0},
	} {
		completed, failed, dead := c.st.Counts()
		require.Equal(t, []int{c.completed, c.failed, c.dead}, []int{completed, failed, dead}, "%s", c.st.Outcome)
	}
}
