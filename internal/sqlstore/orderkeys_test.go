package sqlstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
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
	require.NoError(t, p.Each(func(q string, keys, freed []string) error {
		require.Empty(t, freed)
		got = append(got, append([]string{q}, keys...))
		return nil
	}))
	require.Equal(t, [][]string{{"q", "a", "b"}, {"r", "a"}}, got)
	require.Equal(t, `["a","b\"c"]`, sqlstore.KeyList([]string{"a", `b"c`}))
}

// AddSettled frees the keys of completions, cancels and deaths; a retry,
// snooze or release leaves its key maybe busy, and a key noted both ways
// stays maybe busy.
func TestKeyPromotionsAddSettled(t *testing.T) {
	t.Parallel()
	var p sqlstore.KeyPromotions
	t0 := time.Unix(100, 0)
	st := func(key string, o queue.Outcome) queue.Settlement {
		return queue.Settlement{Queue: "q", OrderKey: key, Outcome: o, Now: t0}
	}
	p.AddSettled(st("done", queue.OutcomeComplete))
	p.AddSettled(st("cancelled", queue.OutcomeCancel))
	p.AddSettled(st("dead", queue.OutcomeDead))
	p.AddSettled(st("retried", queue.OutcomeRetry))
	p.AddSettled(st("snoozed", queue.OutcomeSnooze))
	p.AddSettled(st("released", queue.OutcomeRelease))
	p.AddSettled(st("both", queue.OutcomeComplete))
	p.AddSettled(st("both", queue.OutcomeRetry))
	p.Add("q", "cancelled", t0)
	p.AddSettled(st("", queue.OutcomeComplete))
	var busy, freed []string
	require.NoError(t, p.Each(func(q string, b, f []string) error {
		busy, freed = b, f
		return nil
	}))
	require.Equal(t, []string{"done", "dead"}, freed)
	require.Equal(t, []string{"cancelled", "retried", "snoozed", "released", "both"}, busy)
}
