package queue

import (
	"encoding/json"
	"time"
	"unicode/utf8"
)

// JobJSON is a job's JSON form, the one the admin API and the spool command
// print: snake_case names, times in UTC, absent times as null.
type JobJSON struct {
	ID              int64             `json:"id"`
	Queue           string            `json:"queue"`
	Kind            string            `json:"kind"`
	State           State             `json:"state"`
	Priority        int               `json:"priority"`
	Attempt         int               `json:"attempt"`
	MaxAttempts     int               `json:"max_attempts"`
	TimeoutMS       int64             `json:"timeout_ms"`
	CreatedAt       time.Time         `json:"created_at"`
	RunAt           time.Time         `json:"run_at"`
	AttemptedAt     *time.Time        `json:"attempted_at"`
	FinishedAt      *time.Time        `json:"finished_at"`
	LeasedBy        string            `json:"leased_by,omitempty"`
	LeaseUntil      *time.Time        `json:"lease_until"`
	CancelRequested bool              `json:"cancel_requested"`
	UniqueKey       string            `json:"unique_key,omitempty"`
	OrderKey        string            `json:"order_key,omitempty"`
	ExpiresAt       *time.Time        `json:"expires_at"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	LastError       string            `json:"last_error,omitempty"`
	DeadReason      string            `json:"dead_reason,omitempty"`
	// PayloadEncoding and Payload are set by NewJobJSON with full: see
	// PayloadJSON.
	PayloadEncoding string         `json:"payload_encoding,omitempty"`
	Payload         any            `json:"payload,omitempty"`
	Errors          []AttemptError `json:"errors,omitempty"`
	// ErrorsDropped is Job.ErrorsDropped: how many failed attempts' errors
	// were not kept between the first entry of Errors and the rest.
	ErrorsDropped int `json:"errors_dropped,omitempty"`
}

// NewJobJSON returns j's JSON form; full adds the payload, the kept attempt
// errors and the count of those not kept (a listing leaves them out).
func NewJobJSON(j *Job, full bool) JobJSON {
	a := JobJSON{
		ID: j.ID, Queue: j.Queue, Kind: j.Kind, State: j.State, Priority: j.Priority,
		Attempt: j.Attempt, MaxAttempts: j.MaxAttempts, TimeoutMS: j.Timeout.Milliseconds(),
		CreatedAt: j.CreatedAt.UTC(), RunAt: j.RunAt.UTC(),
		AttemptedAt: utcOrNil(j.AttemptedAt), FinishedAt: utcOrNil(j.FinishedAt),
		LeasedBy: j.LeasedBy, LeaseUntil: utcOrNil(j.LeaseUntil), CancelRequested: j.CancelRequested,
		UniqueKey: j.UniqueKey, OrderKey: j.OrderKey, ExpiresAt: utcOrNil(j.ExpiresAt),
		Metadata: j.Metadata, DeadReason: j.DeadReason,
	}
	if e := j.LastError(); e != nil {
		a.LastError = e.Message
	}
	if full {
		a.Errors, a.ErrorsDropped = j.Errors, j.ErrorsDropped
		if a.Errors == nil {
			a.Errors = []AttemptError{}
		}
		a.PayloadEncoding, a.Payload = PayloadJSON(j.Payload)
	}
	return a
}

// PayloadJSON returns how a payload is written in JSON: as the JSON itself
// ("json"), as a string ("text"), or as base64 bytes ("base64"). Only valid
// UTF-8 is written as JSON or text: json.Valid accepts JSON whose strings
// hold invalid UTF-8, which a JSON answer cannot carry as it is (decoders
// turn the bytes into U+FFFD), so such a payload is written as base64.
func PayloadJSON(p []byte) (encoding string, value any) {
	switch {
	case len(p) == 0:
		return "json", json.RawMessage("null")
	case utf8.Valid(p) && json.Valid(p):
		return "json", json.RawMessage(p)
	case utf8.Valid(p):
		return "text", string(p)
	default:
		return "base64", p // []byte marshals as base64
	}
}

func utcOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
