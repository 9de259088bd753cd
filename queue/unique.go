package queue

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Unique jobs. A job with a UniqueKey (given, or derived by UniqueByArgs)
// is not inserted when the key is held, and the enqueue returns the
// holder with EnqueueResult.Duplicate set. A key is held by
//
//   - a live job with it (pending, scheduled, blocked, running): always;
//   - the job that started a UniqueFor period, until the period ends,
//     when the new job sets UniqueFor: the store keeps the period apart
//     from the job, so it outlives a completed job that was deleted;
//   - a completed, cancelled or dead job with it, when the new job lists
//     that state in UniqueStates.
//
// The options are the new job's: a job enqueued without UniqueFor is
// held back only by live jobs and its own UniqueStates, whatever periods
// earlier jobs started. They govern enqueues only: RetryDead refuses a
// dead job only while a live job holds its key (RetryDeadResult.Skipped),
// and Delete frees no period. Expired periods are removed by Prune
// (PruneParams.UniqueBefore), which worker pools run.
//
// They compare with River's UniqueOpts (ByPeriod, ByState, ByArgs and
// ByQueue: a derived key always includes the queue) and Oban's unique
// options (period, states, fields and keys), with one difference: a
// period runs from the job's enqueue, not from a clock-aligned bucket.

// liveStates are the states in which a job always holds its unique key.
var liveStates = []State{StatePending, StateScheduled, StateBlocked, StateRunning}

// ArgsKey returns the unique key UniqueByArgs derives for a job of kind in
// queue with payload:
//
//	args:<kind>@<queue>:<sha256 in hex>
//
// such as "args:email.receipt@default:9f86d0…". Kind and queue names hold
// no "@", so the key names them unambiguously. The hash is over the
// payload's canonical JSON (objects' keys sorted, no insignificant
// whitespace, numbers as written, strings re-escaped) when the payload is
// one JSON value, and over its bytes otherwise (an empty payload
// included), each with its own prefix, so that a JSON payload and a
// non-JSON one never share a key. Use it to find such a job
// (Inspector.List does not filter by key; a job's UniqueKey shows it).
func ArgsKey(kind, queue string, payload []byte) string {
	h := sha256.New()
	if c, ok := CanonicalJSON(payload); ok {
		h.Write([]byte("json\x00"))
		h.Write(c)
	} else {
		h.Write([]byte("bytes\x00"))
		h.Write(payload)
	}
	return "args:" + kind + "@" + queue + ":" + hex.EncodeToString(h.Sum(nil))
}

// CanonicalJSON returns b as canonical JSON, and false when b is not one
// JSON value: objects with their keys sorted (a key given twice keeps its
// last value), no whitespace between tokens, numbers as written (1 and
// 1.0 stay different), strings re-encoded as encoding/json writes them.
// Two payloads that are equal JSON (keys in any order, any spacing) give
// the same bytes.
func CanonicalJSON(b []byte) ([]byte, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	if len(bytes.TrimLeft(b[d.InputOffset():], " \t\r\n")) > 0 {
		return nil, false // more than one value, or trailing bytes
	}
	var out bytes.Buffer
	e := json.NewEncoder(&out)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, false
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), true
}

// normalizeUnique checks the unique options, derives the key for
// UniqueByArgs (j.Payload is set) and sorts UniqueStates into lifecycle
// order without duplicates, leaving it nil when it names only the live
// states.
func normalizeUnique(j *NewJob, now time.Time) (string, error) {
	if j.UniqueByArgs {
		if j.UniqueKey != "" {
			return "UniqueByArgs", invalid("set UniqueKey or UniqueByArgs, not both")
		}
		j.UniqueKey = ArgsKey(j.Kind, j.Queue, j.Payload)
	}
	switch {
	case j.UniqueFor < 0:
		return "UniqueFor", invalid("%s is negative", j.UniqueFor)
	case j.UniqueFor > 0 && j.UniqueKey == "":
		return "UniqueFor", invalid("needs a UniqueKey or UniqueByArgs")
	case j.UniqueStates != nil && j.UniqueKey == "":
		return "UniqueStates", invalid("needs a UniqueKey or UniqueByArgs")
	}
	if j.UniqueFor > 0 {
		if r := outOfRange(now.Add(j.UniqueFor)); r != "" {
			return "UniqueFor", &reason{text: fmt.Sprintf("%s after now ends at %s", j.UniqueFor, r), err: ErrTimeOutOfRange}
		}
	}
	if j.UniqueStates == nil {
		return "", nil
	}
	var set []State
	for _, s := range States {
		if slices.Contains(j.UniqueStates, s) {
			set = append(set, s)
		}
	}
	for _, s := range j.UniqueStates {
		if !s.Valid() {
			return "UniqueStates", invalid("%q is not a state", s)
		}
	}
	for _, s := range liveStates {
		if !slices.Contains(set, s) {
			return "UniqueStates", invalid("lacks %s: a live job (pending, scheduled, blocked, running) always holds its key, so list every live state and add completed, cancelled or dead", s)
		}
	}
	if len(set) == len(liveStates) {
		set = nil
	}
	j.UniqueStates = set
	return "", nil
}
