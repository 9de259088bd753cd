package sqlstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlstore"
)

// KeyPromotions holds each (queue, key) once, drops jobs without a key,
// groups the keys by queue in the order first added, and keeps the latest
// time.
func TestKeyPromotions(t *testing.T) {
	t.Parallel()
	var p sqlstore.KeyPromotions
	require.True(t, p.Empty())
	t0 := time.Unix(100, 0)
	p.Add("q", "a", t0)
	p.Add("q", "", t0.Add(time.Hour)) // no key: ignored, its time too
	p.Add("r", "a", t0.Add(2*time.Second))
	p.Add("q", "b", t0.Add(time.Second))
	p.Add("q", "a", t0)
	require.False(t, p.Empty())
	require.Equal(t, t0.Add(2*time.Second), p.Now())
	var got [][]string
	require.NoError(t, p.Each(func(q string, keys []string) error {
		got = append(got, append([]string{q}, keys...))
		return nil
	}))
	require.Equal(t, [][]string{{"q", "a", "b"}, {"r", "a"}}, got)
	require.Equal(t, `["a","b\"c"]`, sqlstore.KeyList([]string{"a", `b"c`}))
}
