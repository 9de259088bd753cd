package queue

import (
	"context"
	"fmt"
	"time"
)

// Leader is implemented by stores that elect one holder at a time for a
// named role through the database, so that of several worker pools (in one
// process or on several hosts) one does the periodic maintenance (rescue of
// expired leases, pruning, event backlog delivery) while the others skip
// it. Worker pools ask for the role "maintenance" every maintenance round
// when their store implements Leader; on a store that does not, every pool
// maintains, which is correct too: maintenance is safe to run concurrently,
// and leadership only saves the duplicated work. A leader is therefore not
// a lock: two holders for a moment (a leader's round outlasting its ttl,
// hosts whose clocks disagree by more than ttl) cost work, not correctness.
//
// The promises, for each name:
//   - at most one holder at a time, as judged by the callers' now;
//   - a holder that calls Lead again before its ttl has passed keeps the
//     role, and its term runs to its latest now + ttl;
//   - a holder that stops calling loses the role once its term has passed
//     (now after it), and the next caller of Lead takes it;
//   - Resign gives the role up at once, when holder holds it.
//
// Times come from the caller, as for Store, so tests drive them.
type Leader interface {
	// Lead takes or renews the role name for holder until now + ttl and
	// reports whether holder holds it: true when the role was free, its
	// holder's term had passed, or holder already held it; false when
	// another holds it.
	Lead(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	// Resign frees the role name if holder holds it, and does nothing
	// otherwise.
	Resign(ctx context.Context, name, holder string) error
}

// ValidateLead is the one check of Lead's arguments that every backend
// makes first: a name and a holder are required and ttl must be positive.
// Its error wraps ErrInvalidArgument.
func ValidateLead(name, holder string, ttl time.Duration) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: Lead: name is empty", ErrInvalidArgument)
	case holder == "":
		return fmt.Errorf("%w: Lead: holder is empty", ErrInvalidArgument)
	case ttl <= 0:
		return fmt.Errorf("%w: Lead: ttl %s is not positive", ErrInvalidArgument, ttl)
	}
	return nil
}
