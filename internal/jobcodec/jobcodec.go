// Package jobcodec holds the text formats of the job columns that every
// store keeps the same way: a job's metadata and its bounded error
// history, both JSON. The SQLite and PostgreSQL stores write and read
// them through it, so a job's history means the same in both.
package jobcodec

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/spooljobs/spool/queue"
)

// The errors column holds a job's error history as a JSON array, oldest
// first, bounded by queue.AppendAttemptError. Where attempts were dropped,
// an entry {"dropped": n} stands in their place; rows written before the
// bound have none and read as they are.
type storedAttemptError struct {
	queue.AttemptError
	Dropped int `json:"dropped,omitempty"`
}

type droppedMarker struct {
	Dropped int `json:"dropped"`
}

// DecodeErrors reads an errors column: the kept attempts and how many were
// dropped between them.
func DecodeErrors(s string) ([]queue.AttemptError, int, error) {
	var stored []storedAttemptError
	if err := json.Unmarshal([]byte(s), &stored); err != nil {
		return nil, 0, err
	}
	var (
		kept    []queue.AttemptError
		dropped int
	)
	for _, e := range stored {
		if e.Dropped > 0 {
			dropped += e.Dropped
			continue
		}
		kept = append(kept, e.AttemptError)
	}
	return kept, dropped, nil
}

// EncodeErrors writes an errors column, with the dropped attempts' marker
// where queue.Job.ErrorsGap puts them. Times are stored in UTC; HTML
// characters are not escaped (the column is data, not a page).
func EncodeErrors(kept []queue.AttemptError, dropped int) (string, error) {
	j := queue.Job{Errors: kept, ErrorsDropped: dropped}
	gap := j.ErrorsGap()
	out := make([]any, 0, len(kept)+1)
	for i, e := range kept {
		if i == gap {
			out = append(out, droppedMarker{dropped})
		}
		e.At = e.At.UTC()
		out = append(out, e)
	}
	if gap == len(kept) {
		out = append(out, droppedMarker{dropped})
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// AppendError returns the errors column stored (empty: no history yet)
// with e added by queue.AppendAttemptError, which bounds the history: what
// a store writes back when it records a failed attempt.
func AppendError(stored string, e queue.AttemptError) (string, error) {
	var (
		kept    []queue.AttemptError
		dropped int
	)
	if stored != "" {
		var err error
		if kept, dropped, err = DecodeErrors(stored); err != nil {
			return "", err
		}
	}
	kept, dropped = queue.AppendAttemptError(kept, dropped, e)
	return EncodeErrors(kept, dropped)
}

// EncodeMetadata is a metadata column: JSON, or nil (NULL) when m is empty.
func EncodeMetadata(m map[string]string) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(m))
	size := 2
	for k, v := range m {
		keys = append(keys, k)
		size += len(k) + len(v) + 6
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return string(append(b, '}')), nil
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it (HTML characters too), so that a metadata column reads the
// same byte for byte as json.Marshal wrote it: the publish path encodes a
// map per delivery job, and reflection was a tenth of its writer's time.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// DecodeMetadata reads a metadata column; "" is no metadata.
func DecodeMetadata(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}
