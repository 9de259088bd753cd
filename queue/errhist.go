package queue

import (
	"fmt"
	"slices"
	"unicode/utf8"
)

// A job's error history is bounded, so that a job that fails for days
// cannot grow without end (each failure rewrites the history, and a large
// one slows every write that waits behind it). The history keeps the first
// ErrorsKeptFirst attempt errors and the latest ErrorsKeptLast; the
// attempts between them are counted in Job.ErrorsDropped and their errors
// are gone. Each kept entry keeps its true attempt number.
//
// The bound is decided here, in AppendAttemptError, and backends call it
// wherever they record a failed attempt.
const (
	// ErrorsKeptFirst is how many of a job's oldest attempt errors are
	// kept: the first failure is often the one that explains the rest.
	// The dropped attempts always lie right after these entries.
	ErrorsKeptFirst = 1
	// ErrorsKeptLast is how many of a job's latest attempt errors are kept.
	ErrorsKeptLast = 9
	// MaxErrorMessage is how many bytes of an attempt's error message are
	// kept; a longer message is cut at a UTF-8 character boundary and
	// ends with a note that says it was truncated and how long it was.
	MaxErrorMessage = 4 << 10
	// MaxErrorStack is how many bytes of an attempt's panic stack are kept,
	// cut and marked the same way (the innermost frames, first, are kept).
	MaxErrorStack = 8 << 10
)

// AppendAttemptError returns a job's error history with e added as its
// newest entry, and the new count of dropped attempts. kept is the history
// as stored (oldest first) and dropped the count of attempts already
// dropped from it. e's message and stack are capped (MaxErrorMessage,
// MaxErrorStack). When the history then holds more than ErrorsKeptFirst +
// ErrorsKeptLast entries, the oldest entries after the first
// ErrorsKeptFirst are removed and counted in the returned dropped count.
// So len(history) + dropped always equals the number of failed attempts
// recorded on the job. kept is not modified.
func AppendAttemptError(kept []AttemptError, dropped int, e AttemptError) (history []AttemptError, droppedNow int) {
	e.Message = truncateText(e.Message, MaxErrorMessage)
	e.Stack = truncateText(e.Stack, MaxErrorStack)
	history = append(slices.Clip(kept), e)
	if over := len(history) - (ErrorsKeptFirst + ErrorsKeptLast); over > 0 {
		history = slices.Delete(history, ErrorsKeptFirst, ErrorsKeptFirst+over)
		dropped += over
	}
	return history, dropped
}

// ErrorsGap returns the index in j.Errors before which the dropped
// attempts (j.ErrorsDropped) lie, or -1 when none were dropped. Displays
// use it to show the gap where it is.
func (j *Job) ErrorsGap() int {
	if j.ErrorsDropped <= 0 {
		return -1
	}
	return min(ErrorsKeptFirst, len(j.Errors))
}

// truncateText cuts s to at most max bytes, at a UTF-8 character
// boundary, and says so at its end.
func truncateText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && cut > max-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… [truncated: %d of %d bytes kept]", cut, len(s))
}
