package queue_test

// What validation refuses before a store sees it: times outside the range
// a store keeps, and event metadata Enqueue would refuse.

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// newQueue opens a store on a fresh file and a queue over it with the
// given clock (nil: time.Now).
func newQueue(t *testing.T, now func() time.Time) *queue.Queue {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "spool.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	q, err := queue.New(s, queue.Options{Now: now})
	require.NoError(t, err)
	return q
}

func year(y int) time.Time { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC) }

// A RunAt or ExpiresAt the store cannot keep is refused, naming the field
// and the value: year 300000 wrapped around to -284555 in the store, so the
// job ran at once (RunAt) or died "expired" without running (ExpiresAt).
func TestEnqueueRefusesTimesOutOfRange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, nil)
	cases := []struct {
		job   queue.NewJob
		field string
		value string
	}{
		{queue.NewJob{Kind: "k", RunAt: year(300000)}, "RunAt", "300000-01-01T00:00:00Z"},
		{queue.NewJob{Kind: "k", RunAt: year(10000)}, "RunAt", "10000-01-01T00:00:00Z"},
		{queue.NewJob{Kind: "k", RunAt: year(-1)}, "RunAt", "-0001-01-01T00:00:00Z"},
		{queue.NewJob{Kind: "k", ExpiresAt: year(300000)}, "ExpiresAt", "300000-01-01T00:00:00Z"},
		{queue.NewJob{Kind: "k", RunAt: time.Now(), ExpiresAt: year(20000)}, "ExpiresAt", "20000-01-01T00:00:00Z"},
	}
	for _, c := range cases {
		_, err := q.Enqueue(ctx, c.job)
		var ie *queue.InvalidJobError
		require.True(t, errors.As(err, &ie), "%s %s accepted (err %v)", c.field, c.value, err)
		require.Equal(t, c.field, ie.Field)
		require.ErrorIs(t, err, queue.ErrTimeOutOfRange)
		require.ErrorIs(t, err, queue.ErrInvalidJob)
		require.ErrorContains(t, err, c.value)
	}
	jobs, err := q.Inspector().List(ctx, queue.ListFilter{})
	require.NoError(t, err)
	require.Empty(t, jobs, "a refused job was stored")

	// The edges of the range are kept as given.
	for _, at := range []time.Time{time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)} {
		res, err := q.Enqueue(ctx, queue.NewJob{Kind: "k", RunAt: at})
		require.NoError(t, err)
		j, err := q.Inspector().Get(ctx, res.ID)
		require.NoError(t, err)
		require.True(t, j.RunAt.Equal(at), "RunAt %s read back as %s", at, j.RunAt)
	}
}

// A Delay that puts the run time past the range names Delay; a clock past
// the range names the clock.
func TestEnqueueRefusesDelayPastRange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, func() time.Time { return time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC) })
	_, err := q.Enqueue(ctx, queue.NewJob{Kind: "k", Delay: 48 * time.Hour})
	var ie *queue.InvalidJobError
	require.True(t, errors.As(err, &ie), "accepted (err %v)", err)
	require.Equal(t, "Delay", ie.Field)
	require.ErrorIs(t, err, queue.ErrTimeOutOfRange)
	require.ErrorContains(t, err, "10000-01-02T00:00:00Z")

	q = newQueue(t, func() time.Time { return year(300000) })
	_, err = q.Enqueue(ctx, queue.NewJob{Kind: "k"})
	require.True(t, errors.As(err, &ie), "accepted (err %v)", err)
	require.Equal(t, "RunAt", ie.Field)
	require.ErrorContains(t, err, "Options.Now")
}

// A subscription starting at a time the store cannot keep is refused: year
// 300000 wrapped around, and the subscription received the whole log.
func TestSubscribeRefusesFromTimeOutOfRange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, nil)
	_, err := q.Publish(ctx, queue.Event{Topic: "orders.created"})
	require.NoError(t, err)
	err = q.Topics().Subscribe(ctx, queue.Subscription{Name: "late", Pattern: "orders.#", Kind: "k",
		From: queue.StartAt{Time: year(300000)}})
	require.ErrorIs(t, err, queue.ErrTimeOutOfRange)
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
	require.ErrorContains(t, err, "From.Time 300000-01-01T00:00:00Z")
	subs, err := q.Topics().Subscriptions(ctx)
	require.NoError(t, err)
	require.Empty(t, subs)
}

// Event filter bounds outside the range: an Until after it is an open end
// (it wrapped around and matched nothing), a Since after it is refused (it
// wrapped around and matched everything); the same for Replay.
func TestEventFilterTimesOutOfRange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, nil)
	_, err := q.Publish(ctx, queue.Event{Topic: "orders.created"})
	require.NoError(t, err)

	evs, err := q.Topics().Events(ctx, queue.EventFilter{Topic: "orders.created", Until: year(300000)})
	require.NoError(t, err)
	require.Len(t, evs, 1, "Until in year 300000 hid an event published now")
	evs, err = q.Topics().Events(ctx, queue.EventFilter{Topic: "orders.created", Since: year(-5)})
	require.NoError(t, err)
	require.Len(t, evs, 1)

	_, err = q.Topics().Events(ctx, queue.EventFilter{Topic: "orders.created", Since: year(300000)})
	require.ErrorIs(t, err, queue.ErrTimeOutOfRange)
	require.ErrorContains(t, err, "Since 300000-01-01T00:00:00Z")
	_, err = q.Topics().Events(ctx, queue.EventFilter{Topic: "orders.created", Until: year(-5)})
	require.ErrorIs(t, err, queue.ErrTimeOutOfRange)
	require.ErrorContains(t, err, "Until -0005-01-01T00:00:00Z")

	require.NoError(t, q.Topics().Subscribe(ctx, queue.Subscription{Name: "s", Pattern: "orders.#", Kind: "k"}))
	_, err = q.Topics().Replay(ctx, "s", queue.EventFilter{Topic: "orders.created", Since: year(300000)})
	require.ErrorIs(t, err, queue.ErrTimeOutOfRange)
	jobs, err := q.Inspector().List(ctx, queue.ListFilter{})
	require.NoError(t, err)
	require.Empty(t, jobs, "a replay from year 300000 delivered past events")
}

// An event's metadata follows the rules of a job's: every subscriber's job
// carries it. Invalid UTF-8 was accepted and turned into U+FFFD in the
// delivered jobs (two keys could merge into one).
func TestPublishRefusesMetadataEnqueueRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueue(t, nil)
	require.NoError(t, q.Topics().Subscribe(ctx, queue.Subscription{Name: "s", Pattern: "orders.#", Kind: "k"}))
	for name, md := range map[string]map[string]string{
		"utf8":  {"tenant": "\xff"},
		"empty": {"": "x"},
		"size":  {"big": string(make([]byte, 64<<10))},
	} {
		_, err := q.Publish(ctx, queue.Event{Topic: "orders.created", Metadata: md})
		require.ErrorIs(t, err, queue.ErrInvalidArgument, name)
		require.ErrorContains(t, err, "event Metadata", name)
	}
	jobs, err := q.Inspector().List(ctx, queue.ListFilter{})
	require.NoError(t, err)
	require.Empty(t, jobs)

	// A subscription's job fields are checked by Enqueue's rules too.
	err = q.Topics().Subscribe(ctx, queue.Subscription{Name: "bad", Pattern: "orders.#", Kind: "k", Queue: "a//b"})
	require.ErrorIs(t, err, queue.ErrInvalidArgument)
	require.ErrorContains(t, err, `subscription "bad": Queue:`)
}
