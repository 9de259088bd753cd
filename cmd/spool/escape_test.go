package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// Job data is anyone's text: what a terminal would act on (an escape
// sequence that clears the screen, a bidirectional override) is printed
// escaped, in tables and in show.
func TestCLIEscapesControlCharacters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	evil := "boom \x1b]0;PWNED\x07\x1b[2J \u202egnp.exe"
	res, err := f.q.Enqueue(ctx, queue.NewJob{Kind: "evil.kind", Queue: "evil", Payload: []byte(evil),
		Metadata: map[string]string{"note": evil}})
	require.NoError(t, err)
	now := time.Now()
	l, err := f.store.Lease(ctx, queue.LeaseParams{Queue: "evil", Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "t"})
	require.NoError(t, err)
	require.Len(t, l.Jobs, 1)
	j := l.Jobs[0]
	_, err = f.store.Settle(ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue,
		Outcome: queue.OutcomeDead, Now: now, Reason: evil, Error: &queue.AttemptError{Attempt: 1, At: now, Message: evil}}})
	require.NoError(t, err)

	for _, args := range [][]string{
		{"show", "-db", f.path, strconv.FormatInt(res.ID, 10)},
		{"ls", "-db", f.path, "-queue", "evil"},
	} {
		r := ok(t, args...)
		require.NotContains(t, r.stdout, "\x1b", "spool %v", args)
		require.NotContains(t, r.stdout, "\x07", "spool %v", args)
		require.NotContains(t, r.stdout, "\u202e", "spool %v", args)
		require.Contains(t, r.stdout, `\x1b]0;PWNED\x07`, "spool %v: escaped, still readable", args)
	}
}
