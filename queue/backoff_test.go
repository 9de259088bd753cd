package queue_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

func TestExponentialBounds(t *testing.T) {
	t.Parallel()
	b := queue.Exponential(time.Second, time.Hour)
	for attempt := -1; attempt <= 200; attempt++ {
		exp := time.Hour
		if a := max(attempt, 1); a <= 13 {
			exp = min(time.Duration(1<<(a-1))*time.Second, time.Hour)
		}
		for range 50 {
			d := b(attempt)
			require.GreaterOrEqual(t, d, exp/2, "attempt %d", attempt)
			require.Less(t, d, exp+1, "attempt %d", attempt)
		}
	}
	// Jitter spreads retries out.
	seen := map[time.Duration]bool{}
	for range 100 {
		seen[b(5)] = true
	}
	require.Greater(t, len(seen), 50)
}

func TestClassifyExhaustedBeatsRetryIn(t *testing.T) {
	t.Parallel()
	d := queue.Classify(queue.RetryIn(time.Minute, nil), 3, 3, nil)
	require.Equal(t, queue.OutcomeDead, d.Outcome)
	require.Contains(t, d.Reason, "attempts exhausted (3 of 3)")
	// A snooze never exhausts: it spends no attempt.
	require.Equal(t, queue.OutcomeSnooze, queue.Classify(queue.Snooze(time.Second), 3, 3, nil).Outcome)
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	_, err := queue.New(nil, queue.Options{})
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
}
