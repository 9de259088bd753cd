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
// absolute RunAt and a Payload. Its error is an *InvalidJobError with
// Index i.
func (q *Queue) normalize(i int, j NewJob, now time.Time) (NewJob, error) {
	field, err := q.normalizeFields(&j)
	if err == nil {
		field, err = q.normalizePayload(&j)
	}
	if err == nil {
		field, err = normalizeUnique(&j, now)
	}
	if err == nil {
		field, err = normalizeTimes(&j, now)
	}
	if err == nil {
		field, err = q.normalizeDeps(&j)
	}
	if err != nil {
		ie := &InvalidJobError{Index: i, Field: field, Reason: err.Error()}
		if errors.Is(err, ErrPayloadTooLarge) || errors.Is(err, ErrTimeOutOfRange) || errors.Is(err, ErrDependenciesUnsupported) || errors.Is(err, ErrBatchesUnsupported) {
			ie.Err = errors.Unwrap(err)
		}
		return NewJob{}, ie
	}
	return j, nil
}

// reason is an invalid field's reason; wrapped, it carries the sentinel
// the *InvalidJobError wraps.
type reason struct {
	text string
	err  error
}

func (r *reason) Error() string { return r.text }
func (r *reason) Unwrap() error { return r.err }

func invalid(format string, a ...any) error { return &reason{text: fmt.Sprintf(format, a...)} }

// normalizeFields checks the names, numbers and keys, and fills Queue and
// MaxAttempts.
func (q *Queue) normalizeFields(j *NewJob) (string, error) {
	if err := ValidName(j.Kind); err != nil {
		return "Kind", invalid("%v", err)
	}
	if j.Queue == "" {
		j.Queue = DefaultQueue
	}
	if err := ValidName(j.Queue); err != nil {
		return "Queue", invalid("%v", err)
	}
	switch {
	case j.Priority < 0 || j.Priority > MaxPriority:
		return "Priority", invalid("%d is outside 0..%d", j.Priority, MaxPriority)
	case j.Delay < 0:
		return "Delay", invalid("%s is negative", j.Delay)
	case j.Timeout < 0:
		return "Timeout", invalid("%s is negative", j.Timeout)
	case j.MaxAttempts < 0:
		return "MaxAttempts", invalid("%d is negative", j.MaxAttempts)
	case len(j.UniqueKey) > maxUniqueKeyLen:
		return "UniqueKey", invalid("%d bytes is longer than %d", len(j.UniqueKey), maxUniqueKeyLen)
	case len(j.OrderKey) > maxUniqueKeyLen:
		return "OrderKey", invalid("%d bytes is longer than %d", len(j.OrderKey), maxUniqueKeyLen)
	case len(j.PartitionKey) > maxUniqueKeyLen:
		return "PartitionKey", invalid("%d bytes is longer than %d", len(j.PartitionKey), maxUniqueKeyLen)
	case strings.IndexByte(j.PartitionKey, 0) >= 0:
		return "PartitionKey", invalid("%q has a NUL byte", j.PartitionKey)
	case !utf8.ValidString(j.PartitionKey):
		return "PartitionKey", invalid("%q is not valid UTF-8", j.PartitionKey)
	}
	if j.MaxAttempts == 0 {
		j.MaxAttempts = q.opts.MaxAttempts
	}
	if r := checkMetadata(j.Metadata); r != "" {
		return "Metadata", invalid("%s", r)
	}
	return "", nil
}

// normalizePayload encodes Args into Payload and checks its size.
func (q *Queue) normalizePayload(j *NewJob) (string, error) {
	if j.Args != nil {
		if j.Payload != nil {
			return "Args", invalid("set either Payload or Args, not both")
		}
		b, err := json.Marshal(j.Args)
		if err != nil {
			return "Args", invalid("cannot encode %s as JSON: %v", typeName(j.Args), err)
		}
		j.Payload, j.Args = b, nil
	}
	if j.Payload == nil {
		j.Payload = []byte{}
	}
	if len(j.Payload) > q.opts.MaxPayloadBytes {
		return "Payload", &reason{err: ErrPayloadTooLarge,
			text: fmt.Sprintf("%d bytes exceeds the limit of %d (Options.MaxPayloadBytes)", len(j.Payload), q.opts.MaxPayloadBytes)}
	}
	return "", nil
}

// normalizeTimes makes RunAt absolute and checks RunAt and ExpiresAt.
// Times outside the store's range are refused, never clamped: the store
// would wrap them around (a far-future RunAt would run at once).
func normalizeTimes(j *NewJob, now time.Time) (string, error) {
	badTime := func(text string) error { return &reason{text: text, err: ErrTimeOutOfRange} }
	if j.RunAt.IsZero() {
		j.RunAt = now.Add(j.Delay)
		if r := outOfRange(j.RunAt); r != "" {
			if j.Delay == 0 {
				return "RunAt", badTime("the queue's clock (Options.Now) reads " + r)
			}
			return "Delay", badTime(fmt.Sprintf("%s after now: the run time %s", j.Delay, r))
		}
	} else if r := outOfRange(j.RunAt); r != "" {
		return "RunAt", badTime(r)
	}
	j.Delay = 0
	if j.ExpiresAt.IsZero() {
		return "", nil
	}
	if r := outOfRange(j.ExpiresAt); r != "" {
		return "ExpiresAt", badTime(r)
	}
	if !j.ExpiresAt.After(j.RunAt) || !j.ExpiresAt.After(now) {
		return "ExpiresAt", invalid("%s is not after the job's run time %s: it would expire before it could start",
			j.ExpiresAt.UTC().Format(time.RFC3339), j.RunAt.UTC().Format(time.RFC3339))
	}
	return "", nil
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
