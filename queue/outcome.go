package queue

import (
	"errors"
	"fmt"
	"time"
)

// Permanent marks err as not worth retrying: the job goes to the dead table
// at once, with err as the reason. Permanent(nil) returns nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return "permanent: " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Snooze asks for the job to run again after d without counting the attempt:
// the partner was not ready, a lock was taken, the data is not there yet.
func Snooze(d time.Duration) error { return &snoozeError{d: d} }

type snoozeError struct{ d time.Duration }

func (e *snoozeError) Error() string { return fmt.Sprintf("snoozed for %s", e.d) }

// RetryIn fails the attempt with err and retries exactly d later instead of
// after the backoff, for example when a partner answered 429 with a
// Retry-After header. The attempt counts; with none left the job is dead.
func RetryIn(d time.Duration, err error) error {
	if err == nil {
		err = errors.New("retry requested")
	}
	return &retryInError{d: d, err: err}
}

type retryInError struct {
	d   time.Duration
	err error
}

func (e *retryInError) Error() string { return e.err.Error() }
func (e *retryInError) Unwrap() error { return e.err }

// Outcome is what settling a job does.
type Outcome int

// The outcomes of an attempt.
const (
	// OutcomeComplete: the handler succeeded.
	OutcomeComplete Outcome = iota + 1
	// OutcomeRetry: the attempt failed and the job runs again later.
	OutcomeRetry
	// OutcomeSnooze: run again later; the attempt is not counted.
	OutcomeSnooze
	// OutcomeDead: failed permanently or out of attempts.
	OutcomeDead
	// OutcomeRelease: the worker stops; the job is pending again at once and
	// the attempt is not counted.
	OutcomeRelease
	// OutcomeCancel: an operator cancelled the running job.
	OutcomeCancel
)

// String returns the outcome's name.
func (o Outcome) String() string {
	switch o {
	case OutcomeComplete:
		return "complete"
	case OutcomeRetry:
		return "retry"
	case OutcomeSnooze:
		return "snooze"
	case OutcomeDead:
		return "dead"
	case OutcomeRelease:
		return "release"
	case OutcomeCancel:
		return "cancel"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Decision is what Classify decided for one attempt.
type Decision struct {
	// Outcome is what to do with the job.
	Outcome Outcome
	// Delay is how long until the job runs again (retry and snooze).
	Delay time.Duration
	// Reason is the dead reason (dead only).
	Reason string
}

// Classify decides, in one place, what a handler's result means for a job on
// its attempt-th attempt out of maxAttempts: nil completes; Snooze delays
// without spending the attempt; Permanent and exhausted attempts go dead; a
// RetryIn error retries after its delay; any other error retries after
// backoff(attempt).
func Classify(err error, attempt, maxAttempts int, backoff Backoff) Decision {
	if err == nil {
		return Decision{Outcome: OutcomeComplete}
	}
	var sn *snoozeError
	if errors.As(err, &sn) {
		return Decision{Outcome: OutcomeSnooze, Delay: max(sn.d, 0)}
	}
	var pe *permanentError
	if errors.As(err, &pe) {
		return Decision{Outcome: OutcomeDead, Reason: PermanentReason(pe.err)}
	}
	if attempt >= maxAttempts {
		return Decision{Outcome: OutcomeDead, Reason: ExhaustedReason(attempt, maxAttempts, err)}
	}
	var ri *retryInError
	if errors.As(err, &ri) {
		return Decision{Outcome: OutcomeRetry, Delay: max(ri.d, 0)}
	}
	if backoff == nil {
		backoff = DefaultBackoff
	}
	return Decision{Outcome: OutcomeRetry, Delay: backoff(attempt)}
}
