package wire

import (
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/spooljobs/spool/queue"
)

// Job is a job's JSON form: snake_case names, times in UTC, absent times
// as null.
type Job struct {
	ID              int64             `json:"id"`
	Queue           string            `json:"queue"`
	Kind            string            `json:"kind"`
	State           queue.State       `json:"state"`
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
	PartitionKey    string            `json:"partition_key,omitempty"`
	ExpiresAt       *time.Time        `json:"expires_at"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	LastError       string            `json:"last_error,omitempty"`
	DeadReason      string            `json:"dead_reason,omitempty"`
	// PayloadEncoding and Payload are set by NewJob with full: see
	// Payload.
	PayloadEncoding string `json:"payload_encoding,omitempty"`
	Payload         any    `json:"payload,omitempty"`
	// PayloadBytes, PayloadTruncated and PayloadURL are set by
	// CapPayload: the payload's whole size, whether Payload holds only its
	// start, and where the whole payload is served.
	PayloadBytes     int                  `json:"payload_bytes,omitempty"`
	PayloadTruncated bool                 `json:"payload_truncated,omitempty"`
	PayloadURL       string               `json:"payload_url,omitempty"`
	Errors           []queue.AttemptError `json:"errors,omitempty"`
	// ErrorsDropped is Job.ErrorsDropped: how many failed attempts' errors
	// were not kept between the first entry of Errors and the rest.
	ErrorsDropped int `json:"errors_dropped,omitempty"`
	// OutputEncoding and Output are the handler's recorded output
	// (queue.Job.Output), written as Payload writes a payload, set by
	// NewJob with full when there is one; CapOutput cuts a long one to
	// its start, with OutputTruncated set, OutputBytes its whole size and
	// OutputURL where it is served whole.
	OutputEncoding  string `json:"output_encoding,omitempty"`
	Output          any    `json:"output,omitempty"`
	OutputBytes     int    `json:"output_bytes,omitempty"`
	OutputTruncated bool   `json:"output_truncated,omitempty"`
	OutputURL       string `json:"output_url,omitempty"`
	// Progress is the latest progress the handler reported, set by NewJob
	// with full when there is one.
	Progress *Progress `json:"progress,omitempty"`
}

// Progress is a job's progress (queue.Progress) in JSON.
type Progress struct {
	Fraction float64   `json:"fraction"`
	Message  string    `json:"message,omitempty"`
	At       time.Time `json:"at"`
}

// NewJob returns j's JSON form; full adds the payload, the kept attempt
// errors and the count of those not kept (a listing leaves them out).
func NewJob(j *queue.Job, full bool) Job {
	a := Job{
		ID: j.ID, Queue: j.Queue, Kind: j.Kind, State: j.State, Priority: j.Priority,
		Attempt: j.Attempt, MaxAttempts: j.MaxAttempts, TimeoutMS: j.Timeout.Milliseconds(),
		CreatedAt: j.CreatedAt.UTC(), RunAt: j.RunAt.UTC(),
		AttemptedAt: UTC(j.AttemptedAt), FinishedAt: UTC(j.FinishedAt),
		LeasedBy: j.LeasedBy, LeaseUntil: UTC(j.LeaseUntil), CancelRequested: j.CancelRequested,
		UniqueKey: j.UniqueKey, OrderKey: j.OrderKey, PartitionKey: j.PartitionKey, ExpiresAt: UTC(j.ExpiresAt),
		Metadata: j.Metadata, DeadReason: j.DeadReason,
	}
	if e := j.LastError(); e != nil {
		a.LastError = e.Message
	}
	if full {
		a.Errors, a.ErrorsDropped = j.Errors, j.ErrorsDropped
		if a.Errors == nil {
			a.Errors = []queue.AttemptError{}
		}
		a.PayloadEncoding, a.Payload = Payload(j.Payload)
		if j.Output != nil {
			a.OutputEncoding, a.Output = Payload(j.Output)
			a.OutputBytes = len(j.Output)
		}
		if p := j.Progress; p != nil {
			a.Progress = &Progress{Fraction: p.Fraction, Message: p.Message, At: p.At.UTC()}
		}
	}
	return a
}

// CapOutput sets a's output from o as NewJob with full does, but of an
// output longer than limit bytes only its start (see CappedPayload), with
// OutputTruncated set, and OutputURL to url. A nil o leaves a without
// output.
func (a *Job) CapOutput(o []byte, limit int, url string) {
	if o == nil {
		return
	}
	a.OutputBytes, a.OutputURL = len(o), url
	a.OutputEncoding, a.Output, a.OutputTruncated = CappedPayload(o, limit)
}

// CapPayload sets a's payload from p as NewJob with full does, but of a
// payload longer than limit bytes only its start (see CappedPayload),
// with PayloadTruncated set. It sets PayloadBytes to len(p) and
// PayloadURL to url.
func (a *Job) CapPayload(p []byte, limit int, url string) {
	a.PayloadBytes, a.PayloadURL = len(p), url
	a.PayloadEncoding, a.Payload, a.PayloadTruncated = CappedPayload(p, limit)
}

// CappedPayload returns how a payload is written in JSON, as Payload
// does, when it is at most limit bytes long. Of a longer one it returns
// only its first limit bytes (fewer when that cuts a character of text),
// as "text" when they are valid UTF-8 and as "base64" otherwise, and
// truncated true.
func CappedPayload(p []byte, limit int) (encoding string, value any, truncated bool) {
	if len(p) <= limit {
		encoding, value = Payload(p)
		return encoding, value, false
	}
	head := p[:limit]
	for cut := 1; cut < utf8.UTFMax && cut < limit && !utf8.Valid(head); cut++ {
		if utf8.Valid(p[:limit-cut]) {
			head = p[:limit-cut] // text cut inside a character
		}
	}
	if utf8.Valid(head) {
		return "text", string(head), true
	}
	return "base64", head, true
}

// JobPage is one page of a job listing, newest first. NextBefore, when
// set, is the ID to pass as "before" for the next (older) page.
type JobPage struct {
	Jobs       []Job `json:"jobs"`
	NextBefore int64 `json:"next_before,omitempty"`
}

// NewJobPage returns the page of jobs (without payloads) and the ID that
// continues it (0: none).
func NewJobPage(jobs []*queue.Job, nextBefore int64) JobPage {
	p := JobPage{Jobs: make([]Job, len(jobs)), NextBefore: nextBefore}
	for i, j := range jobs {
		p.Jobs[i] = NewJob(j, false)
	}
	return p
}

// Payload returns how a payload is written in JSON: as the JSON itself
// ("json"), as a string ("text"), or as base64 bytes ("base64"). Only valid
// UTF-8 is written as JSON or text: json.Valid accepts JSON whose strings
// hold invalid UTF-8, which a JSON answer cannot carry as it is (decoders
// turn the bytes into U+FFFD), so such a payload is written as base64.
func Payload(p []byte) (encoding string, value any) {
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
