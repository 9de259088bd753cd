package queue

import (
	"fmt"
	"time"
)

// The reasons a job dies, one function each, so that every backend and
// the worker pool record the same text. A dead job's DeadReason starts with
// one of these prefixes.
const (
	// ReasonPermanent starts the reason of a job whose handler returned a
	// Permanent error.
	ReasonPermanent = "permanent error"
	// ReasonExhausted starts the reason of a job that failed its last
	// attempt (a handler's error, a panic, a timeout, or a lease that
	// expired because its worker stopped).
	ReasonExhausted = "attempts exhausted"
	// ReasonExpired starts the reason of a job that did not start before
	// its ExpiresAt.
	ReasonExpired = "expired"
)

// PermanentReason is the dead reason for a Permanent error err.
func PermanentReason(err error) string { return ReasonPermanent + ": " + err.Error() }

// ExhaustedReason is the dead reason for a job whose attempt-th attempt,
// its last of maxAttempts, failed with err.
func ExhaustedReason(attempt, maxAttempts int, err error) string {
	return fmt.Sprintf("%s (%d of %d): %v", ReasonExhausted, attempt, maxAttempts, err)
}

// ExpiredReason is the dead reason for a job that had not started by its
// ExpiresAt, expiresAt. Stores record it when they expire waiting jobs
// (Store.Lease).
func ExpiredReason(expiresAt time.Time) string {
	return ReasonExpired + ": not started by " + expiresAt.UTC().Format(time.RFC3339)
}
