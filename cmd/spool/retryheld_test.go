package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// A replay makes a new delivery job that holds the unique key of the dead
// delivery of the same event. Before the fix, "spool retry" of the dead job
// said it was not dead, and "spool retry -dead" skipped it without a word
// and exited 0. Now the single retry names the job holding the key, and
// the bulk retry retries the rest, names the held jobs and exits 1.
func TestCLIRetryKeyHeldByReplay(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	// Both deliveries of the fixture's subscription die.
	now := time.Now()
	l, err := f.store.Lease(ctx, queue.LeaseParams{Queue: "notify", Limit: 10, Now: now, Until: now.Add(time.Minute), Worker: "t"})
	require.NoError(t, err)
	require.Len(t, l.Jobs, 2)
	bySeq := map[string]int64{}
	for _, j := range l.Jobs {
		errs, err := f.store.Settle(ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Outcome: queue.OutcomeDead, Now: now, Reason: "test"}})
		require.NoError(t, err)
		require.NoError(t, errs[0])
		bySeq[j.Metadata["spool.seq"]] = j.ID
	}
	dead1, dead2 := bySeq["1"], bySeq["2"]
	// The handler is fixed; event 1 is replayed: a new job holds its key.
	ok(t, "replay", "-db", f.path, "-topic", fixtureTopic, "-from", "1", "-to", "1", fixtureSub)
	jobs, err := f.q.Inspector().List(ctx, queue.ListFilter{Queue: "notify", State: queue.StatePending})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	holder := jobs[0].ID
	key := f.job(t, dead1).UniqueKey

	before := f.snapshot(t)
	fails(t, 1, fmt.Sprintf("dead job %d stays dead: its unique key %q is held by live job %d", dead1, key, holder),
		"retry", "-db", f.path, strconv.FormatInt(dead1, 10))
	require.Equal(t, before, f.snapshot(t))

	r := spool(t, "retry", "-db", f.path, "-dead", "-queue", "notify", "-json")
	require.Equal(t, 1, r.code, r.stderr)
	var out struct {
		Retried int `json:"retried"`
		Skipped []struct {
			ID        int64  `json:"id"`
			UniqueKey string `json:"unique_key"`
			HeldBy    int64  `json:"held_by"`
		} `json:"skipped"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
	require.Equal(t, 1, out.Retried)
	require.Len(t, out.Skipped, 1)
	require.Equal(t, dead1, out.Skipped[0].ID)
	require.Equal(t, key, out.Skipped[0].UniqueKey)
	require.Equal(t, holder, out.Skipped[0].HeldBy)
	require.Contains(t, r.stderr, fmt.Sprintf("job %d stayed dead: its unique key %q is held by live job %d", dead1, key, holder))
	require.Contains(t, r.stderr, "1 dead jobs stayed dead")
	require.Equal(t, queue.StatePending, f.job(t, dead2).State)
	require.Equal(t, queue.StateDead, f.job(t, dead1).State)

	// Without -json: the count on stdout, the held job on stderr.
	r = spool(t, "retry", "-db", f.path, "-dead", "-all")
	require.Equal(t, 1, r.code, r.stderr)
	require.Equal(t, "retried 1 dead jobs\n", r.stdout, "the fixture's own dead job")
	require.Contains(t, r.stderr, fmt.Sprintf("job %d stayed dead", dead1))
}
