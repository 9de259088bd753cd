package queue_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// The history keeps the first attempt and the last nine with their true
// attempt numbers, and counts the attempts between them.
func TestAppendAttemptErrorKeepsFirstAndLast(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0).UTC()
	var (
		kept    []queue.AttemptError
		dropped int
	)
	for a := 1; a <= 736; a++ {
		before := kept
		beforeCopy := append([]queue.AttemptError(nil), kept...)
		kept, dropped = queue.AppendAttemptError(kept, dropped, queue.AttemptError{
			Attempt: a, At: t0.Add(time.Duration(a) * time.Second), Message: fmt.Sprintf("failure %d", a)})
		require.Equal(t, beforeCopy, before, "attempt %d: the input history is not modified", a)
		require.Equal(t, a, len(kept)+dropped, "attempt %d: kept + dropped counts every failed attempt", a)
		require.LessOrEqual(t, len(kept), queue.ErrorsKeptFirst+queue.ErrorsKeptLast)
		require.Equal(t, a, kept[len(kept)-1].Attempt, "the newest entry is the attempt just added")
	}
	require.Equal(t, 726, dropped)
	var attempts []int
	for _, e := range kept {
		attempts = append(attempts, e.Attempt)
	}
	require.Equal(t, []int{1, 728, 729, 730, 731, 732, 733, 734, 735, 736}, attempts)
	require.Equal(t, "failure 1", kept[0].Message)
	require.Equal(t, "failure 736", kept[9].Message)

	j := &queue.Job{Errors: kept, ErrorsDropped: dropped}
	require.Equal(t, 1, j.ErrorsGap(), "the dropped attempts lie after the first entry")
	require.Equal(t, 736, j.LastError().Attempt)
	require.Equal(t, -1, (&queue.Job{Errors: kept[:3]}).ErrorsGap(), "no gap when nothing was dropped")
}

// A history stored before the bound (any length) is trimmed to the bound
// by the next failure, and the entries it loses are counted.
func TestAppendAttemptErrorTrimsAnOldLongHistory(t *testing.T) {
	t.Parallel()
	var old []queue.AttemptError
	for a := 1; a <= 40; a++ {
		old = append(old, queue.AttemptError{Attempt: a, Message: "old"})
	}
	kept, dropped := queue.AppendAttemptError(old, 0, queue.AttemptError{Attempt: 41, Message: "new"})
	require.Len(t, kept, queue.ErrorsKeptFirst+queue.ErrorsKeptLast)
	require.Equal(t, 31, dropped)
	require.Equal(t, 1, kept[0].Attempt)
	require.Equal(t, 33, kept[1].Attempt)
	require.Equal(t, 41, kept[9].Attempt)
	require.Len(t, old, 40, "the input history is not modified")
	require.Equal(t, 2, old[1].Attempt)
}

// Long messages and stacks are capped, cut at a UTF-8 boundary, and say
// that they were cut; short ones are stored as they are.
func TestAppendAttemptErrorCapsMessageAndStack(t *testing.T) {
	t.Parallel()
	// "é" is two bytes: an odd cap would fall inside one.
	msg := "x" + strings.Repeat("é", queue.MaxErrorMessage)
	stack := strings.Repeat("goroutine 1 [running]:\n", 2000)
	kept, dropped := queue.AppendAttemptError(nil, 0, queue.AttemptError{Attempt: 1, Message: msg, Stack: stack})
	require.Zero(t, dropped)
	require.Len(t, kept, 1)
	e := kept[0]
	require.True(t, utf8.ValidString(e.Message), "the cut message is valid UTF-8")
	require.LessOrEqual(t, len(e.Message), queue.MaxErrorMessage+100)
	require.Contains(t, e.Message, fmt.Sprintf("of %d bytes kept]", len(msg)), "the cut is marked with the original size")
	require.True(t, strings.HasPrefix(msg, strings.Split(e.Message, "… [truncated")[0]), "the kept part is the message's start")
	require.LessOrEqual(t, len(e.Stack), queue.MaxErrorStack+100)
	require.Contains(t, e.Stack, "[truncated:")
	require.True(t, strings.HasPrefix(e.Stack, "goroutine 1 [running]:\n"), "the innermost frames are kept")

	kept, _ = queue.AppendAttemptError(nil, 0, queue.AttemptError{Attempt: 1, Message: "short", Stack: "s"})
	require.Equal(t, "short", kept[0].Message)
	require.Equal(t, "s", kept[0].Stack)
}
