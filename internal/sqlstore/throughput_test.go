package sqlstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Settlements add up per minute and queue, only those that count add a
// row, and the keys come in one order.
func TestThroughput(t *testing.T) {
	t.Parallel()
	m0 := time.Unix(1_700_000_040, 0) // a whole minute
	failure := &queue.AttemptError{Message: "boom"}
	tp := sqlstore.Throughput{}
	for _, st := range []queue.Settlement{
		{Queue: "b", Now: m0.Add(59 * time.Second), Outcome: queue.OutcomeComplete},
		{Queue: "b", Now: m0, Outcome: queue.OutcomeDead, Error: failure},
		{Queue: "a", Now: m0.Add(time.Minute), Outcome: queue.OutcomeRetry, Error: failure},
		{Queue: "a", Now: m0, Outcome: queue.OutcomeComplete},
		{Queue: "c", Now: m0, Outcome: queue.OutcomeSnooze},
	} {
		tp.Count(st)
	}
	m := m0.Unix()
	require.Equal(t, []sqlstore.MetricKey{{m, "a"}, {m, "b"}, {m + 60, "a"}}, tp.Keys())
	require.Equal(t, sqlstore.MetricCounts{Completed: 1, Failed: 1, Dead: 1}, *tp[sqlstore.MetricKey{m, "b"}])
	require.Equal(t, sqlstore.MetricCounts{Completed: 1}, *tp[sqlstore.MetricKey{m, "a"}])
	require.Equal(t, sqlstore.MetricCounts{Failed: 1}, *tp[sqlstore.MetricKey{m + 60, "a"}])
}
