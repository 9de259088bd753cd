package sqlite_test

// The error history is bounded: a job that fails
// hundreds of times keeps a small errors column.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// errHistoryBound is the most the errors column may hold for a history of
// messages without stacks: every kept entry at its capped size, with room
// for the JSON around it.
const errHistoryBound = (queue.ErrorsKeptFirst + queue.ErrorsKeptLast + 1) * (queue.MaxErrorMessage + 256)

// failOnce leases the job (the only one in its queue) and settles its
// attempt with outcome and an error of msg; it returns the attempt number.
func failOnce(t *testing.T, s *sqlite.Store, now time.Time, outcome queue.Outcome, msg string) int {
	t.Helper()
	ctx := context.Background()
	res, err := s.Lease(ctx, queue.LeaseParams{Queue: queue.DefaultQueue, Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "w"})
	require.NoError(t, err)
	require.Len(t, res.Jobs, 1)
	j := res.Jobs[0]
	errs, err := s.Settle(ctx, nil, []queue.Settlement{{
		JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Outcome: outcome, Now: now, RunAt: now,
		Reason: "gave up",
		Error:  &queue.AttemptError{Attempt: j.Attempt, At: now, Message: fmt.Sprintf("attempt %d: %s", j.Attempt, msg)}}})
	require.NoError(t, err)
	require.NoError(t, errs[0])
	return j.Attempt
}

func errorsLength(t *testing.T, s *sqlite.Store, table string, id int64) int {
	t.Helper()
	var n int
	require.NoError(t, s.DB().QueryRow(`SELECT coalesce(length(errors), 0) FROM `+table+` WHERE id = ?`, id).Scan(&n))
	return n
}

func attemptsOf(j *queue.Job) []int {
	var out []int
	for _, e := range j.Errors {
		out = append(out, e.Attempt)
	}
	return out
}

// 300 failed attempts of an 8 KiB error through the real store leave an
// errors column of the first attempt and the last nine (each message
// capped), with the 290 between them counted; the job's death and its
// retry from the dead table keep the history coherent.
func TestErrorHistoryStaysBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openStore(t, sqlite.Options{})
	now := time.Now().Truncate(time.Millisecond)
	ids, err := s.Enqueue(ctx, nil, now, []queue.NewJob{{Queue: queue.DefaultQueue, Kind: "k", Payload: []byte("{}"), MaxAttempts: 1000, RunAt: now}})
	require.NoError(t, err)
	id := ids[0].ID
	big := strings.Repeat("x", 8<<10)
	maxLen := 0
	for a := 1; a <= 300; a++ {
		now = now.Add(time.Second)
		require.Equal(t, a, failOnce(t, s, now, queue.OutcomeRetry, big))
		maxLen = max(maxLen, errorsLength(t, s, "spool_jobs", id))
	}
	t.Logf("errors column after 300 failures of 8 KiB: %d bytes (largest seen %d)", errorsLength(t, s, "spool_jobs", id), maxLen)
	require.LessOrEqual(t, maxLen, errHistoryBound, "the errors column stays bounded")

	j, err := s.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []int{1, 292, 293, 294, 295, 296, 297, 298, 299, 300}, attemptsOf(j), "true attempt numbers of the first and the last nine")
	require.Equal(t, 290, j.ErrorsDropped)
	require.True(t, strings.HasPrefix(j.Errors[0].Message, "attempt 1: xxx"))
	require.Contains(t, j.Errors[0].Message, "[truncated:", "the 8 KiB message is capped and says so")
	require.True(t, strings.HasPrefix(j.Errors[9].Message, "attempt 300: "))
	for i := 1; i < len(j.Errors); i++ {
		require.True(t, j.Errors[i-1].At.Before(j.Errors[i].At), "oldest first")
	}
	// On disk the gap is an entry of its own, after the first attempt.
	var gap, entries int
	require.NoError(t, s.DB().QueryRow(`SELECT json_extract(errors, '$[1].dropped'), json_array_length(errors)
  FROM spool_jobs WHERE id = ?`, id).Scan(&gap, &entries))
	require.Equal(t, 290, gap)
	require.Equal(t, 11, entries)

	// The 301st attempt fails for good: the dead row holds the same
	// bounded history, with this attempt as its newest entry.
	now = now.Add(time.Second)
	require.Equal(t, 301, failOnce(t, s, now, queue.OutcomeDead, "card declined"))
	require.LessOrEqual(t, errorsLength(t, s, "spool_dead", id), errHistoryBound)
	dead, err := s.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, queue.StateDead, dead.State)
	require.Equal(t, []int{1, 293, 294, 295, 296, 297, 298, 299, 300, 301}, attemptsOf(dead))
	require.Equal(t, 291, dead.ErrorsDropped)
	require.Equal(t, "attempt 301: card declined", dead.LastError().Message)
}

// A dead job retried from the dead table starts again at attempt 1 and
// keeps its history: its new failures are added after the old ones, the
// dropped count goes on from where it was, and kept + dropped still counts
// every failed attempt of both runs.
func TestErrorHistoryAcrossRetryFromDead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openStore(t, sqlite.Options{})
	now := time.Now().Truncate(time.Millisecond)
	ids, err := s.Enqueue(ctx, nil, now, []queue.NewJob{{Queue: queue.DefaultQueue, Kind: "k", Payload: []byte("{}"), MaxAttempts: 20, RunAt: now}})
	require.NoError(t, err)
	id := ids[0].ID
	for a := 1; a <= 20; a++ {
		now = now.Add(time.Second)
		outcome := queue.OutcomeRetry
		if a == 20 {
			outcome = queue.OutcomeDead
		}
		failOnce(t, s, now, outcome, "first run")
	}
	dead, err := s.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, queue.StateDead, dead.State)
	require.Equal(t, []int{1, 12, 13, 14, 15, 16, 17, 18, 19, 20}, attemptsOf(dead))
	require.Equal(t, 10, dead.ErrorsDropped)

	now = now.Add(time.Second)
	n, err := s.RetryDead(ctx, nil, queue.DeadFilter{IDs: []int64{id}}, now)
	require.NoError(t, err)
	require.Equal(t, 1, n.Retried)
	back, err := s.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, attemptsOf(dead), attemptsOf(back), "the retried job keeps its history")
	require.Equal(t, 10, back.ErrorsDropped, "and its dropped count")
	require.Zero(t, back.Attempt)

	for a := 1; a <= 3; a++ {
		now = now.Add(time.Second)
		require.Equal(t, a, failOnce(t, s, now, queue.OutcomeRetry, "second run"))
	}
	j, err := s.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []int{1, 15, 16, 17, 18, 19, 20, 1, 2, 3}, attemptsOf(j))
	require.Equal(t, 13, j.ErrorsDropped)
	require.Equal(t, 23, len(j.Errors)+j.ErrorsDropped, "every failed attempt of both runs is counted")
	require.Equal(t, "attempt 1: first run", j.Errors[0].Message)
	require.Equal(t, "attempt 3: second run", j.LastError().Message)
	for i := 1; i < len(j.Errors); i++ {
		require.True(t, j.Errors[i-1].At.Before(j.Errors[i].At), "oldest first")
	}
}

// A row written before the bound (an errors array of any length, no
// dropped count) still reads, and its next failure trims it.
func TestErrorHistoryOldRowsStillRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openStore(t, sqlite.Options{})
	now := time.Now().Truncate(time.Millisecond)
	ids, err := s.Enqueue(ctx, nil, now, []queue.NewJob{{Queue: queue.DefaultQueue, Kind: "k", Payload: []byte("{}"), MaxAttempts: 100, RunAt: now}})
	require.NoError(t, err)
	id := ids[0].ID
	var old []queue.AttemptError
	for a := 1; a <= 40; a++ {
		old = append(old, queue.AttemptError{Attempt: a, At: now.Add(time.Duration(a) * time.Millisecond).UTC(), Message: "old"})
	}
	b, err := json.Marshal(old)
	require.NoError(t, err)
	_, err = s.DB().ExecContext(ctx, `UPDATE spool_jobs SET errors = ?, attempt = 40 WHERE id = ?`, string(b), id)
	require.NoError(t, err)

	j, err := s.Get(ctx, id)
	require.NoError(t, err)
	require.Len(t, j.Errors, 40)
	require.Zero(t, j.ErrorsDropped)

	now = now.Add(time.Second)
	require.Equal(t, 41, failOnce(t, s, now, queue.OutcomeRetry, "new"))
	j, err = s.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []int{1, 33, 34, 35, 36, 37, 38, 39, 40, 41}, attemptsOf(j))
	require.Equal(t, 31, j.ErrorsDropped)
}
