package sqlstore

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A bucket starts full, refills Limit tokens per Period, never holds more
// than Limit, and says when the next token is due.
func TestRateBucket(t *testing.T) {
	const sec = int64(1_000_000)
	b := RateBucket{Limit: 5, Period: 60 * sec, Tokens: -1}
	now := 1000 * sec
	n, next := b.Take(now, 3)
	require.Equal(t, 3, n)
	require.Zero(t, next, "all three fit")
	b.Spend(n)
	n, next = b.Take(now, 10)
	require.Equal(t, 2, n)
	b.Spend(n)
	require.Equal(t, now+12*sec+1, next, "one token per 12s")
	n, next = b.Take(now+6*sec, 1)
	require.Zero(t, n, "half a token")
	require.Equal(t, now+12*sec+1, next)
	n, _ = b.Take(now+12*sec+1, 4)
	require.Equal(t, 1, n)
	b.Spend(n)
	n, _ = b.Take(now+600*sec, 9)
	require.Equal(t, 5, n, "the bucket holds at most Limit")
	b.Spend(n)

	// A clock step back refills nothing and keeps the later time.
	at := b.At
	n, _ = b.Take(at-30*sec, 1)
	require.Zero(t, n)
	require.Equal(t, at, b.At)
}
