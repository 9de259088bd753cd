package queue

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// requireTx is the one rule for nil transactions: every Tx twin needs the
// caller's transaction, and a nil one is an ErrInvalidArgument that names
// the twin without Tx, which uses the store's own transaction. (The Store
// contract is different: there a nil tx means the store's own.)
func requireTx(tx *sql.Tx, method, own string) error {
	if tx != nil {
		return nil
	}
	if own == "" {
		return fmt.Errorf("%w: %s: tx is nil", ErrInvalidArgument, method)
	}
	return fmt.Errorf("%w: %s: tx is nil (%s runs in the store's own transaction)", ErrInvalidArgument, method, own)
}

// ValidateJob reports whether Enqueue would accept j now: it runs the same
// checks, with this queue's options and clock, and returns the same
// *InvalidJobError. Code that keeps job templates to enqueue later (package
// schedule) validates them with it, so that the rules cannot drift apart.
func (q *Queue) ValidateJob(j NewJob) error {
	_, err := q.normalize(0, j, q.opts.Now())
	return err
}

// normalize validates j and fills its defaults: Queue, MaxAttempts, an
// absolute RunAt and a Payload.
func (q *Queue) normalize(i int, j NewJob, now time.Time) (NewJob, error) {
	bad := func(field, format string, a ...any) (NewJob, error) {
		return NewJob{}, &InvalidJobError{Index: i, Field: field, Reason: fmt.Sprintf(format, a...)}
	}
	if err := ValidName(j.Kind); err != nil {
		return bad("Kind", "%v", err)
	}
	if j.Queue == "" {
		j.Queue = DefaultQueue
	}
	if err := ValidName(j.Queue); err != nil {
		return bad("Queue", "%v", err)
	}
	if j.Priority < 0 || j.Priority > MaxPriority {
		return bad("Priority", "%d is outside 0..%d", j.Priority, MaxPriority)
	}
	if j.Delay < 0 {
		return bad("Delay", "%s is negative", j.Delay)
	}
	if j.Timeout < 0 {
		return bad("Timeout", "%s is negative", j.Timeout)
	}
	switch {
	case j.MaxAttempts == 0:
		j.MaxAttempts = q.opts.MaxAttempts
	case j.MaxAttempts < 0:
		return bad("MaxAttempts", "%d is negative", j.MaxAttempts)
	}
	if len(j.UniqueKey) > maxUniqueKeyLen {
		return bad("UniqueKey", "%d bytes is longer than %d", len(j.UniqueKey), maxUniqueKeyLen)
	}
	if len(j.OrderKey) > maxUniqueKeyLen {
		return bad("OrderKey", "%d bytes is longer than %d", len(j.OrderKey), maxUniqueKeyLen)
	}
	if j.Args != nil {
		if j.Payload != nil {
			return bad("Args", "set either Payload or Args, not both")
		}
		b, err := json.Marshal(j.Args)
		if err != nil {
			return bad("Args", "cannot encode %s as JSON: %v", typeName(j.Args), err)
		}
		j.Payload, j.Args = b, nil
	}
	if j.Payload == nil {
		j.Payload = []byte{}
	}
	if len(j.Payload) > q.opts.MaxPayloadBytes {
		return NewJob{}, &InvalidJobError{Index: i, Field: "Payload", Err: ErrPayloadTooLarge,
			Reason: fmt.Sprintf("%d bytes exceeds the limit of %d (Options.MaxPayloadBytes)", len(j.Payload), q.opts.MaxPayloadBytes)}
	}
	if reason := checkMetadata(j.Metadata); reason != "" {
		return bad("Metadata", "%s", reason)
	}
	// Times outside the store's range are refused, never clamped: the
	// store would wrap them around (a far-future RunAt would run at once).
	badTime := func(field, reason string) (NewJob, error) {
		return NewJob{}, &InvalidJobError{Index: i, Field: field, Reason: reason, Err: ErrTimeOutOfRange}
	}
	if j.RunAt.IsZero() {
		j.RunAt = now.Add(j.Delay)
		if r := outOfRange(j.RunAt); r != "" {
			if j.Delay == 0 {
				return badTime("RunAt", "the queue's clock (Options.Now) reads "+r)
			}
			return badTime("Delay", fmt.Sprintf("%s after now: the run time %s", j.Delay, r))
		}
	} else if r := outOfRange(j.RunAt); r != "" {
		return badTime("RunAt", r)
	}
	j.Delay = 0
	if !j.ExpiresAt.IsZero() {
		if r := outOfRange(j.ExpiresAt); r != "" {
			return badTime("ExpiresAt", r)
		}
	}
	if start := j.RunAt; !j.ExpiresAt.IsZero() && !j.ExpiresAt.After(start) || !j.ExpiresAt.IsZero() && !j.ExpiresAt.After(now) {
		return bad("ExpiresAt", "%s is not after the job's run time %s: it would expire before it could start",
			j.ExpiresAt.UTC().Format(time.RFC3339), j.RunAt.UTC().Format(time.RFC3339))
	}
	return j, nil
}

// checkMetadata says what is wrong with md as a job's (or an event's)
// metadata, or "" when nothing is.
func checkMetadata(md map[string]string) string {
	size := 0
	for k, v := range md {
		if k == "" {
			return "empty key"
		}
		// JSON would turn invalid UTF-8 into U+FFFD: two keys could merge.
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Sprintf("key %q or its value is not valid UTF-8", k)
		}
		size += len(k) + len(v)
	}
	if size > maxMetadataBytes {
		return fmt.Sprintf("%d bytes exceeds the limit of %d", size, maxMetadataBytes)
	}
	return ""
}

// ValidName checks a queue or kind name: 1 to 128 characters of ASCII
// letters, digits and "._:-/".
func ValidName(s string) error {
	if s == "" {
		return errors.New("empty name")
	}
	if len(s) > maxNameLen {
		return fmt.Errorf("name %.20q... is longer than %d characters", s, maxNameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.' || c == '_' || c == ':' || c == '-' || c == '/':
		default:
			return fmt.Errorf("name %q has the character %q; use letters, digits and ._:-/", s, c)
		}
	}
	// Names appear in the admin's URL paths, which are cleaned: "/" must
	// separate non-empty parts other than "." and "..".
	for _, part := range strings.Split(s, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("name %q has a \"/\" at an end, \"//\", or a part \".\" or \"..\"", s)
		}
	}
	return nil
}
