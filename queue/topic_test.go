package queue_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

func TestMatchTopic(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, topic string
		want           bool
	}{
		{"orders.created", "orders.created", true},
		{"orders.created", "orders.updated", false},
		{"orders.created", "orders.created.eu", false},
		{"orders.*", "orders.created", true},
		{"orders.*", "orders", false},
		{"orders.*", "orders.line.added", false},
		{"*.created", "orders.created", true},
		{"*.created", "created", false},
		{"orders.#", "orders", true},
		{"orders.#", "orders.created", true},
		{"orders.#", "orders.line.added", true},
		{"orders.#", "payments.created", false},
		{"#", "anything.at.all", true},
		{"#.added", "orders.line.added", true},
		{"#.added", "added", true},
		{"orders.#.added", "orders.added", true},
		{"orders.#.added", "orders.line.item.added", true},
		{"orders.#.added", "orders.line.removed", false},
		{"*.*", "a.b", true},
		{"*.*", "a.b.c", false},
		{"a.*.#", "a", false},
		{"a.*.#", "a.b", true},
		{"a.*.#", "a.b.c.d", true},
	}
	for _, c := range cases {
		require.Equal(t, c.want, queue.MatchTopic(c.pattern, c.topic), "%q vs %q", c.pattern, c.topic)
	}
}

func TestValidTopicAndPattern(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"orders", "orders.created", "shop-1.orders_v2.created"} {
		require.NoError(t, queue.ValidTopic(ok))
		require.NoError(t, queue.ValidPattern(ok))
	}
	for _, bad := range []string{"", "orders..created", ".orders", "orders.", "orders.*", "orders.#", "or ders", "orders.cre*ted"} {
		require.Error(t, queue.ValidTopic(bad), bad)
	}
	for _, ok := range []string{"orders.*", "#", "*.created", "orders.#.added"} {
		require.NoError(t, queue.ValidPattern(ok), ok)
	}
	for _, bad := range []string{"orders.x*", "orders..#", "a b.*"} {
		require.Error(t, queue.ValidPattern(bad), bad)
	}
}

// Names appear in the admin's URL paths: a "/" separates real parts.
func TestValidNameSlashes(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"mail", "shop/mail", "eu-1/shop/mail", "a..b", "v1.2"} {
		require.NoError(t, queue.ValidName(ok), ok)
	}
	for _, bad := range []string{"/mail", "mail/", "shop//mail", "shop/./mail", "shop/../mail", ".", "..", "/"} {
		require.ErrorContains(t, queue.ValidName(bad), `a "/" at an end`, bad)
	}
	require.Error(t, queue.ValidTopic("orders.created/"), "a topic word is a name")
}

// Matching takes time proportional to pattern × topic words, also for
// patterns full of "#" that would make a backtracking matcher run for
// hours; a regression hangs this test until its timeout.
func TestMatchTopicManyHashes(t *testing.T) {
	words := make([]string, 200)
	for i := range words {
		words[i] = "w"
	}
	topic := strings.Join(words, ".")
	pattern := strings.Repeat("#.", 40) + "z"
	require.False(t, queue.MatchTopic(pattern, topic))
	require.True(t, queue.MatchTopic(strings.Repeat("#.", 40)+"w", topic))
	require.True(t, queue.MatchTopic("#.w.#.w.#", topic))
	require.False(t, queue.MatchTopic("#.w.z.#", topic))
}

func TestSubscriptionDiff(t *testing.T) {
	t.Parallel()
	s := queue.Subscription{Name: "mail", Pattern: "orders.*", Kind: "email.receipt"}
	same := s
	same.Queue, same.Filter = queue.DefaultQueue, map[string]string{}
	same.From = queue.StartAt{Beginning: true}
	require.Empty(t, s.Diff(same), "default queue spelt out, empty filter, From")

	other := s
	other.Filter = map[string]string{"b": "2", "a": "1"}
	other.Queue, other.MaxAttempts = "mail", 3
	require.Equal(t, []string{`Filter {} -> {"a": "1", "b": "2"}`, `Queue "default" -> "mail"`, "MaxAttempts 0 -> 3"}, s.Diff(other))

	err := error(&queue.SubscriptionChangedError{Name: "mail", Stored: s, Given: other})
	require.ErrorIs(t, err, queue.ErrSubscriptionChanged)
	require.Equal(t, `queue: subscription "mail" exists with another definition (Filter {} -> {"a": "1", "b": "2"}, Queue "default" -> "mail", MaxAttempts 0 -> 3); UpdateSubscription changes it`, err.Error())
}

func TestKeyHeldError(t *testing.T) {
	t.Parallel()
	err := error(&queue.KeyHeldError{JobID: 5, Key: "charge:1", HolderID: 9})
	require.ErrorIs(t, err, queue.ErrUniqueKeyHeld)
	require.Equal(t, `queue: dead job 5 stays dead: its unique key "charge:1" is held by live job 9 (retry it once job 9 has finished, or delete one of the two)`, err.Error())
	res := queue.RetryDeadResult{Retried: 2, Skipped: []queue.KeyHeldError{{JobID: 5, Key: "charge:1", HolderID: 9}}}
	require.ErrorIs(t, res.Err(), queue.ErrUniqueKeyHeld)
	require.Contains(t, res.Err().Error(), "queue: retried 2 dead jobs; 1 stayed dead: queue: dead job 5 stays dead")
	require.NoError(t, queue.RetryDeadResult{Retried: 2}.Err())
}
