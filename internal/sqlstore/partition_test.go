package sqlstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// A KeyPicker takes jobs without a key always, jobs of a key while it has
// a free slot and a token, passes over the others in order, says why, and
// spends the tokens of the jobs leased.
func TestKeyPicker(t *testing.T) {
	t.Parallel()
	const s = int64(time.Second / time.Microsecond)
	k := sqlstore.KeyPicker{MaxRunning: 2, Rate: sqlstore.RateBucket{Limit: 2, Period: s}, Now: 10 * s, Want: 4,
		Running: map[string]int{"busy": 2, "one": 1},
		Load: func(key string) (float64, int64, bool, error) {
			if key == "dry" {
				return 0, 10 * s, true, nil // spent just now
			}
			return 0, 0, false, nil
		}}
	for i, key := range []string{"busy", "one", "one", "dry", "", "new", "new", "new", "late"} {
		require.NoError(t, k.Offer(int64(i), key))
	}
	require.Equal(t, []int64{1, 4, 5, 6}, k.IDs, "busy is full, one has one slot, dry has no token, new two tokens; four wanted")
	require.True(t, k.Done())
	require.True(t, k.Limited)
	require.Equal(t, 10*s+s/2+1, k.NextToken, "dry's next token: half a second")

	spent := k.Spent([]*queue.Job{{PartitionKey: "one"}, {}, {PartitionKey: "new"}, {PartitionKey: "new"}})
	got := map[string]sqlstore.KeyBucket{}
	for _, b := range spent {
		got[b.Key] = b
	}
	require.Len(t, got, 2)
	require.Equal(t, sqlstore.KeyBucket{Key: "one", Tokens: 1, At: 10 * s, FullAt: 10*s + s/2}, got["one"])
	require.Equal(t, sqlstore.KeyBucket{Key: "new", Tokens: 0, At: 10 * s, FullAt: 11 * s}, got["new"])
}
