package sqlstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Settlements add up per minute, queue and kind, every one adds its wait
// (a snooze too, which counts nothing else), and the keys come in one
// order.
func TestThroughput(t *testing.T) {
	t.Parallel()
	m0 := time.Unix(1_700_000_040, 0) // a whole minute
	failure := &queue.AttemptError{Message: "boom"}
	tp := sqlstore.Throughput{}
	for _, st := range []queue.Settlement{
		{Queue: "b", Kind: "k", Now: m0.Add(59 * time.Second), Outcome: queue.OutcomeComplete, Wait: 3 * time.Millisecond},
		{Queue: "b", Kind: "k", Now: m0, Outcome: queue.OutcomeDead, Error: failure, Wait: time.Hour},
		{Queue: "a", Kind: "k", Now: m0.Add(time.Minute), Outcome: queue.OutcomeRetry, Error: failure},
		{Queue: "a", Kind: "k", Now: m0, Outcome: queue.OutcomeComplete},
		{Queue: "a", Kind: "j", Now: m0, Outcome: queue.OutcomeComplete},
		{Queue: "c", Kind: "k", Now: m0, Outcome: queue.OutcomeSnooze, Wait: 2 * time.Second},
	} {
		tp.Count(st)
	}
	m := m0.Unix()
	require.Equal(t, []sqlstore.MetricKey{{m, "a", "j"}, {m, "a", "k"}, {m, "b", "k"}, {m, "c", "k"}, {m + 60, "a", "k"}}, tp.Keys())
	require.Equal(t, sqlstore.MetricCounts{Completed: 1, Failed: 1, Dead: 1, Wait: queue.WaitHistogram{1: 1, 15: 1}}, *tp[sqlstore.MetricKey{m, "b", "k"}])
	require.Equal(t, sqlstore.MetricCounts{Completed: 1, Wait: queue.WaitHistogram{0: 1}}, *tp[sqlstore.MetricKey{m, "a", "k"}])
	require.Equal(t, sqlstore.MetricCounts{Completed: 1, Wait: queue.WaitHistogram{0: 1}}, *tp[sqlstore.MetricKey{m, "a", "j"}])
	require.Equal(t, sqlstore.MetricCounts{Wait: queue.WaitHistogram{8: 1}}, *tp[sqlstore.MetricKey{m, "c", "k"}])
	require.Equal(t, sqlstore.MetricCounts{Failed: 1, Wait: queue.WaitHistogram{0: 1}}, *tp[sqlstore.MetricKey{m + 60, "a", "k"}])
	require.Equal(t, []any{1, 1, 1, int64(0), int64(1), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0),
		int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(1)}, tp[sqlstore.MetricKey{m, "b", "k"}].Args())
}
