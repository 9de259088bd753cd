package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// spool show says how many failed attempts a job's bounded error history
// dropped and shows the gap where they were; -json has errors_dropped.
func TestCLIShowDroppedAttempts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spool.db")
	store, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	now := time.Now()
	ids, err := store.Enqueue(ctx, nil, now, []queue.NewJob{{Queue: queue.DefaultQueue, Kind: "sync", Payload: []byte("{}"), MaxAttempts: 100, RunAt: now}})
	require.NoError(t, err)
	id := ids[0].ID
	for a := 1; a <= 12; a++ {
		now = now.Add(time.Second)
		res, err := store.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "test"})
		require.NoError(t, err)
		require.Len(t, res.Jobs, 1)
		j := res.Jobs[0]
		errs, err := store.Settle(ctx, nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue,
			Outcome: queue.OutcomeRetry, Now: now, RunAt: now,
			Error: &queue.AttemptError{Attempt: j.Attempt, At: now, Message: fmt.Sprintf("timeout %d", j.Attempt)}}})
		require.NoError(t, err)
		require.NoError(t, errs[0])
	}

	out := ok(t, "show", "-db", path, strconv.FormatInt(id, 10)).stdout
	require.Contains(t, out, "Errors (12 failed attempts, 10 kept):")
	first := strings.Index(out, "attempt 1 at")
	gap := strings.Index(out, "  … 2 attempts not kept …\n")
	fourth := strings.Index(out, "attempt 4 at")
	require.NotEqual(t, -1, first, out)
	require.NotEqual(t, -1, gap, "the gap is shown: %s", out)
	require.NotEqual(t, -1, fourth, out)
	require.Less(t, first, gap, "the gap lies between attempt 1 and attempt 4")
	require.Less(t, gap, fourth)
	require.NotContains(t, out, "attempt 2 at")
	require.NotContains(t, out, "attempt 3 at")
	require.Contains(t, out, "timeout 12")

	var j struct {
		Errors []struct {
			Attempt int `json:"attempt"`
		} `json:"errors"`
		ErrorsDropped int `json:"errors_dropped"`
	}
	okJSON(t, &j, "show", "-db", path, strconv.FormatInt(id, 10))
	require.Equal(t, 2, j.ErrorsDropped)
	require.Len(t, j.Errors, 10)
	require.Equal(t, 1, j.Errors[0].Attempt)
	require.Equal(t, 4, j.Errors[1].Attempt)
}
