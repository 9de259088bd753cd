package sqlite_test

// What Enqueue refuses: batches that can never fit, metadata JSON would change.

import (
	"context"
	"testing"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
	"github.com/stretchr/testify/require"
)

// A batch larger than MaxPending can never fit: WaitWhenFull does not wait
// for room that cannot come, and the error says so.
func TestWaitWhenFullRefusesBatchLargerThanLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openStore(t, sqlite.Options{})
	q, err := queue.New(s, queue.Options{WaitWhenFull: true, FullRetryInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, q.Inspector().SetQueueSettings(ctx, queue.DefaultQueue, queue.QueueSettings{MaxPending: 2}))
	done := make(chan error, 1)
	go func() {
		_, err := q.EnqueueMany(ctx, []queue.NewJob{{Kind: "a"}, {Kind: "b"}, {Kind: "c"}})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, queue.ErrQueueFull)
		require.ErrorContains(t, err, "a call adding 3 can never fit")
	case <-time.After(time.Minute):
		t.Fatal("EnqueueMany waits for room that can never exist")
	}
}

// Metadata that is not valid UTF-8 is refused: JSON would change it, and
// keys differing only there would merge.
func TestMetadataInvalidUTF8Refused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openStore(t, sqlite.Options{})
	q := newQueue(t, s)
	_, err := q.Enqueue(ctx, queue.NewJob{Kind: "k", Metadata: map[string]string{"k\xff": "1", "k\xfe": "2"}})
	require.ErrorIs(t, err, queue.ErrInvalidJob)
	require.ErrorContains(t, err, "not valid UTF-8")
}
