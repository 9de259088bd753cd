package sqlstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// A job due by now is pending, a later one scheduled; only jobs without
// keys or expiry are plain; metadata encodes per job, NULL when empty.
func TestEnqueueHelpers(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	require.Equal(t, sqlstore.CodePending, sqlstore.ReadyCode(queue.NewJob{RunAt: now}, now))
	require.Equal(t, sqlstore.CodePending, sqlstore.ReadyCode(queue.NewJob{RunAt: now.Add(-time.Second)}, now))
	require.Equal(t, sqlstore.CodeScheduled, sqlstore.ReadyCode(queue.NewJob{RunAt: now.Add(time.Microsecond)}, now))

	require.True(t, sqlstore.Plain(queue.NewJob{Kind: "k", Priority: 3, RunAt: now}))
	require.False(t, sqlstore.Plain(queue.NewJob{UniqueKey: "u"}))
	require.False(t, sqlstore.Plain(queue.NewJob{OrderKey: "o"}))
	require.False(t, sqlstore.Plain(queue.NewJob{ExpiresAt: now}))

	meta, err := sqlstore.JobsMetadata([]queue.NewJob{{}, {Metadata: map[string]string{"a": "b"}}})
	require.NoError(t, err)
	require.Equal(t, []any{nil, `{"a":"b"}`}, meta)
}
