package sqlstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// A live row and a dead row become jobs with their times read by the
// store's function, NULLs as zero values and a NULL payload empty.
func TestJobRow(t *testing.T) {
	t.Parallel()
	at := func(v int64) time.Time { return time.Unix(v, 0) }
	live := row{int64(5), "mail", "send", int64(sqlstore.CodeRunning), int64(3), int64(10), int64(2), int64(25), int64(1_500_000),
		int64(1), int64(9), nil, int64(40), int64(77), "w1", true,
		"u", nil, "acct-1", nil, `{"a":"b"}`, `[{"at":"2026-01-01T00:00:00Z","attempt":1,"error":"boom"}]`, []byte("{}")}
	var r sqlstore.JobRow
	require.NoError(t, live.Scan(r.Dest(false)...))
	j, err := r.Job(false, at)
	require.NoError(t, err)
	require.Equal(t, &queue.Job{ID: 5, Queue: "mail", Kind: "send", State: queue.StateRunning, Priority: 3,
		RunAt: at(10), Attempt: 2, MaxAttempts: 25, Timeout: 1500 * time.Millisecond, CreatedAt: at(1),
		AttemptedAt: at(9), LeaseUntil: at(40), LeaseToken: 77, LeasedBy: "w1", CancelRequested: true,
		UniqueKey: "u", PartitionKey: "acct-1", Metadata: map[string]string{"a": "b"},
		Errors:  []queue.AttemptError{{At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Attempt: 1, Message: "boom"}},
		Payload: []byte("{}")}, j)

	dead := row{int64(6), "mail", "send", nil, int64(0), int64(10), int64(25), int64(25), int64(0),
		int64(1), int64(9), int64(11), nil, nil, nil, false,
		nil, "k", "acct-2", nil, nil, nil, nil, "attempts exhausted"}
	r = sqlstore.JobRow{}
	require.NoError(t, dead.Scan(r.Dest(true)...))
	j, err = r.Job(true, at)
	require.NoError(t, err)
	require.Equal(t, queue.StateDead, j.State)
	require.Equal(t, at(11), j.FinishedAt)
	require.Equal(t, "k", j.OrderKey)
	require.Equal(t, "acct-2", j.PartitionKey, "a dead job keeps its partition key")
	require.Equal(t, "attempts exhausted", j.DeadReason)
	require.Equal(t, []byte{}, j.Payload)
	require.Nil(t, j.Metadata)

	r = sqlstore.JobRow{}
	broken := append(row{}, live...)
	broken[20] = "{" // metadata
	require.NoError(t, broken.Scan(r.Dest(false)...))
	_, err = r.Job(false, at)
	require.ErrorContains(t, err, "job 5: metadata")
}
