package sqlite_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// A job enqueued by hand with the unique key of a delivery not yet made
// (a key the publish window's multi-row insert does not expect) makes the
// window insert its rows one by one: that subscription's delivery is
// skipped as a duplicate, the others are stored, and the publish counts
// only those.
func TestPublishSkipsDeliveryKeyHeldByHand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openStore(t, sqlite.Options{})
	q := newQueue(t, s)
	for _, name := range []string{"a", "b", "c"} {
		require.NoError(t, q.Topics().Subscribe(ctx, queue.Subscription{Name: name, Pattern: "orders.*", Queue: name, Kind: "k"}))
	}
	first, err := q.Publish(ctx, queue.Event{Topic: "orders.created"})
	require.NoError(t, err)
	require.Equal(t, 3, first.Jobs)
	_, err = q.Enqueue(ctx, queue.NewJob{Kind: "by-hand", Queue: "b", UniqueKey: queue.DeliveryUniqueKey("b", first.EventID+1)})
	require.NoError(t, err)

	next, err := q.Publish(ctx, queue.Event{Topic: "orders.created"})
	require.NoError(t, err)
	require.Equal(t, first.EventID+1, next.EventID)
	require.Equal(t, 2, next.Jobs, "b's key is held")
	for name, kinds := range map[string][]string{"a": {"k", "k"}, "b": {"by-hand", "k"}, "c": {"k", "k"}} {
		list, err := s.List(ctx, queue.ListFilter{Queue: name, Limit: 10})
		require.NoError(t, err)
		var got []string
		for _, j := range list {
			got = append(got, j.Kind)
		}
		slices.Sort(got)
		require.Equal(t, kinds, got, name)
	}
	subs, err := q.Topics().Subscriptions(ctx)
	require.NoError(t, err)
	for _, sub := range subs {
		require.Equal(t, next.EventID, sub.Cursor, "%s caught up", sub.Name)
	}
}

// Publishes with and without ordering keys from many goroutines, written
// together by the writer: a subscription's jobs have ids in the order of
// their events, ordered deliveries wait behind their key's earlier job, and
// the window's cursors and topic sequences end where the events do.
func TestPublishWindowKeepsEventOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openStore(t, sqlite.Options{})
	q := newQueue(t, s)
	require.NoError(t, q.Topics().Subscribe(ctx, queue.Subscription{Name: "x", Pattern: "t.#", Queue: "x", Kind: "k"}))
	require.NoError(t, q.Topics().Subscribe(ctx, queue.Subscription{Name: "y", Pattern: "t.one", Queue: "y", Kind: "k"}))
	const publishers, each = 8, 30
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				ev := queue.Event{Topic: "t.one"}
				if i%2 == 1 {
					ev.Topic = "t.two"
				}
				if i%3 == 0 {
					ev.OrderKey = fmt.Sprint("key", p)
				}
				if _, err := q.Publish(ctx, ev); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for name, want := range map[string]int{"x": publishers * each, "y": publishers * each / 2} {
		list, err := s.List(ctx, queue.ListFilter{Queue: name, Limit: 1000})
		require.NoError(t, err)
		require.Len(t, list, want, name)
		slices.Reverse(list) // oldest first
		var last int64
		blocked := 0
		for _, j := range list {
			id, err := strconv.ParseInt(j.Metadata[queue.MetadataEventID], 10, 64)
			require.NoError(t, err)
			require.Greater(t, id, last, "%s: job %d", name, j.ID)
			last = id
			if j.State == queue.StateBlocked {
				blocked++
			}
		}
		if name == "x" {
			// Each publisher's key: 10 events, the first ready.
			require.Equal(t, publishers*(each/3-1), blocked)
		}
	}
	subs, err := q.Topics().Subscriptions(ctx)
	require.NoError(t, err)
	for _, sub := range subs {
		require.Equal(t, int64(publishers*each), sub.Cursor, sub.Name)
		require.Zero(t, sub.Backlog, sub.Name)
	}
	for topic, n := range map[string]int64{"t.one": publishers * each / 2, "t.two": publishers * each / 2} {
		info, err := q.Topics().Get(ctx, topic)
		require.NoError(t, err)
		require.Equal(t, n, info.LastSeq, topic)
	}
}
