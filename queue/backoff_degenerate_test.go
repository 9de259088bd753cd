package queue_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// d = min(max, base·2^(attempt−1)): a base of 0 gives no delay, and a
// non-positive max never a negative one.
func TestExponentialDegenerateArgs(t *testing.T) {
	t.Parallel()
	require.Zero(t, queue.Exponential(0, time.Hour)(1), "base 0")
	require.Zero(t, queue.Exponential(-time.Second, time.Hour)(3), "negative base")
	require.Zero(t, queue.Exponential(time.Second, -time.Second)(1), "negative max")
	d := queue.Exponential(time.Second, 2*time.Second)(10)
	require.True(t, d >= time.Second && d <= 2*time.Second, "capped: %s", d)
}
