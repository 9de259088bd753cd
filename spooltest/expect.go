package spooltest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Expect describes a job an assertion looks for: a kind, its args, and
// the Options that narrow the match. Build it with Want.
type Expect struct {
	kind    string
	args    any
	hasArgs bool
	checks  []check
}

// check is one narrowing of a match: ok says whether a job passes; what
// describes the expectation, got what the job has instead.
type check struct {
	what string
	ok   func(j *queue.Job) bool
	got  func(j *queue.Job) string
}

// Option narrows what an expectation matches, beyond kind and args.
type Option func(*Expect)

// Want returns the expectation of a job of kind with args, narrowed by
// opts. Args are compared as JSON values: args is encoded as Enqueue
// encodes NewJob.Args ([]byte and json.RawMessage are taken as the JSON
// itself) and compared with the job's payload after decoding both, so key
// order, spacing and number spelling (1 and 1.0) do not matter. Nil args
// match any payload.
func Want(kind string, args any, opts ...Option) Expect {
	e := Expect{kind: kind, args: args, hasArgs: args != nil}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func (e *Expect) add(what string, ok func(*queue.Job) bool, got func(*queue.Job) string) {
	e.checks = append(e.checks, check{what: what, ok: ok, got: got})
}

// Queue matches jobs in the named queue.
func Queue(name string) Option {
	return func(e *Expect) {
		e.add("queue "+strconv.Quote(name), func(j *queue.Job) bool { return j.Queue == name },
			func(j *queue.Job) string { return "queue " + strconv.Quote(j.Queue) })
	}
}

// Priority matches jobs of priority p.
func Priority(p int) Option {
	return func(e *Expect) {
		e.add(fmt.Sprintf("priority %d", p), func(j *queue.Job) bool { return j.Priority == p },
			func(j *queue.Job) string { return fmt.Sprintf("priority %d", j.Priority) })
	}
}

// RunAt matches jobs due at t (to the microsecond the stores keep).
func RunAt(t time.Time) Option {
	t = t.Truncate(time.Microsecond)
	return func(e *Expect) {
		e.add("run at "+fmtTime(t), func(j *queue.Job) bool { return j.RunAt.Truncate(time.Microsecond).Equal(t) },
			func(j *queue.Job) string { return "run at " + fmtTime(j.RunAt) })
	}
}

// Metadata matches jobs whose metadata holds key with value.
func Metadata(key, value string) Option {
	return func(e *Expect) {
		e.add(fmt.Sprintf("metadata %s=%q", key, value), func(j *queue.Job) bool {
			v, ok := j.Metadata[key]
			return ok && v == value
		}, func(j *queue.Job) string { return "metadata " + fmtMetadata(j.Metadata) })
	}
}

// State matches jobs in state s. Without it, jobs in any state match.
func State(s queue.State) Option {
	return func(e *Expect) {
		e.add("state "+string(s), func(j *queue.Job) bool { return j.State == s },
			func(j *queue.Job) string { return "state " + string(j.State) })
	}
}

// UniqueKey matches jobs enqueued with the unique key k.
func UniqueKey(k string) Option {
	return func(e *Expect) {
		e.add("unique key "+strconv.Quote(k), func(j *queue.Job) bool { return j.UniqueKey == k },
			func(j *queue.Job) string { return "unique key " + strconv.Quote(j.UniqueKey) })
	}
}

// OrderKey matches jobs enqueued with the ordering key k.
func OrderKey(k string) Option {
	return func(e *Expect) {
		e.add("order key "+strconv.Quote(k), func(j *queue.Job) bool { return j.OrderKey == k },
			func(j *queue.Job) string { return "order key " + strconv.Quote(j.OrderKey) })
	}
}

// MaxAttempts matches jobs that may use n attempts.
func MaxAttempts(n int) Option {
	return func(e *Expect) {
		e.add(fmt.Sprintf("max attempts %d", n), func(j *queue.Job) bool { return j.MaxAttempts == n },
			func(j *queue.Job) string { return fmt.Sprintf("max attempts %d", j.MaxAttempts) })
	}
}

// match reports whether j meets e, and when its kind is right but it does
// not, what differs.
func (e *Expect) match(j *queue.Job) (bool, string, error) {
	if j.Kind != e.kind {
		return false, "", nil
	}
	var diffs []string
	if e.hasArgs {
		same, err := sameJSON(e.args, j.Payload)
		if err != nil {
			return false, "", fmt.Errorf("spooltest: args of the expected %s job: %w", e.kind, err)
		}
		if !same {
			diffs = append(diffs, "args differ")
		}
	}
	for _, c := range e.checks {
		if !c.ok(j) {
			diffs = append(diffs, c.got(j)+", want "+c.what)
		}
	}
	return len(diffs) == 0, strings.Join(diffs, "; "), nil
}

// String describes e: `kind "email.receipt" with args {"order":1}, queue "mail"`.
func (e Expect) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kind %q", e.kind)
	if e.hasArgs {
		enc, err := argsJSON(e.args)
		if err != nil {
			fmt.Fprintf(&b, " with args %#v", e.args)
		} else {
			fmt.Fprintf(&b, " with args %s", compact(enc))
		}
	} else {
		b.WriteString(" with any args")
	}
	for _, c := range e.checks {
		b.WriteString(", " + c.what)
	}
	return b.String()
}

// argsJSON encodes args as Enqueue encodes NewJob.Args, taking []byte and
// json.RawMessage as JSON already.
func argsJSON(args any) ([]byte, error) {
	switch a := args.(type) {
	case json.RawMessage:
		return a, nil
	case []byte:
		return a, nil
	}
	return json.Marshal(args)
}

// sameJSON reports whether args, encoded as JSON, is the same JSON value
// as payload.
func sameJSON(args any, payload []byte) (bool, error) {
	enc, err := argsJSON(args)
	if err != nil {
		return false, err
	}
	want, err := decodeJSON(enc)
	if err != nil {
		return false, fmt.Errorf("not JSON: %w", err)
	}
	got, err := decodeJSON(payload)
	if err != nil {
		return false, nil // a payload that is not JSON matches no args
	}
	return equalJSON(want, got), nil
}

// decodeJSON decodes one JSON value, numbers as json.Number.
func decodeJSON(b []byte) (any, error) {
	if !json.Valid(b) {
		return nil, fmt.Errorf("not one valid JSON value: %s", compact(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// equalJSON compares decoded JSON values, numbers by value.
func equalJSON(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		bn, ok := b.(json.Number)
		if !ok {
			return false
		}
		return sameNumber(a, bn)
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, av := range a {
			bv, ok := bm[k]
			if !ok || !equalJSON(av, bv) {
				return false
			}
		}
		return true
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return false
		}
		for i := range a {
			if !equalJSON(a[i], bs[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// sameNumber compares two JSON numbers by value: exactly as integers,
// else as 512-bit floats (1E700, beyond float64, equals itself).
func sameNumber(a, b json.Number) bool {
	if ai, err := a.Int64(); err == nil {
		if bi, err := b.Int64(); err == nil {
			return ai == bi
		}
	}
	af, _, aerr := big.ParseFloat(string(a), 10, 512, big.ToNearestEven)
	bf, _, berr := big.ParseFloat(string(b), 10, 512, big.ToNearestEven)
	return aerr == nil && berr == nil && af.Cmp(bf) == 0
}

// compact returns JSON without insignificant space, or the bytes as they
// are when they are not JSON.
func compact(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return strconv.Quote(string(b))
	}
	return buf.String()
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func fmtMetadata(md map[string]string) string {
	if len(md) == 0 {
		return "{}"
	}
	parts := make([]string, 0, len(md))
	for _, k := range slices.Sorted(maps.Keys(md)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, md[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// describeJob is one line of a failure's list of jobs.
func describeJob(j *queue.Job) string {
	s := fmt.Sprintf("#%d %s queue=%s state=%s", j.ID, j.Kind, j.Queue, j.State)
	if j.Priority != 0 {
		s += fmt.Sprintf(" priority=%d", j.Priority)
	}
	if j.State == queue.StateScheduled {
		s += " run_at=" + fmtTime(j.RunAt)
	}
	if len(j.Metadata) > 0 {
		s += " metadata=" + fmtMetadata(j.Metadata)
	}
	payload := compact(j.Payload)
	if len(payload) > 300 {
		payload = payload[:300] + "…"
	}
	return s + " args=" + payload
}
