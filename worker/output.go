package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spooljobs/spool/queue"
)

// A handler records its job's output with RecordOutput and reports its
// progress with ReportProgress. The output is stored with the attempt's
// settlement, in the same write: where the job is kept (a completion with
// Options.KeepCompleted, a retry, a cancel, a death) Get and the admin
// show it; a completion that deletes its job deletes the output with it.
// The progress is written while the job runs, with the pool's heartbeat
// (at most once per HeartbeatInterval, however often the handler reports:
// only the latest report is written), under the job's lease token, so a
// worker that lost the job writes nothing; the latest report is also
// stored with the settlement.

// DefaultMaxOutput is the default of Options.MaxOutput: 32 KiB.
const DefaultMaxOutput = 32 << 10

// ErrNotInHandler is returned by RecordOutput and ReportProgress called
// with a context that is not a running handler's (or after the handler
// returned).
var ErrNotInHandler = errors.New("worker: not called from a running job handler's context")

// ErrOutputTooLarge is wrapped by RecordOutput's error for an output over
// Options.MaxOutput.
var ErrOutputTooLarge = errors.New("worker: output too large")

// RecordOutput records v, encoded as JSON, as the output of the job whose
// handler ctx belongs to: a result for operators and for code that reads
// the job (queue.Job.Output, Get, the admin's job page, spool show). A
// later call replaces the output. The JSON may be at most
// Options.MaxOutput bytes: a larger one is refused with an error wrapping
// ErrOutputTooLarge that names both sizes, and the output recorded before
// stays. Outside a handler's context it fails with ErrNotInHandler.
//
// The output is stored when the attempt settles, whatever its outcome: a
// job that fails keeps the output of its attempt (a dead job too, for
// operators). A completed job keeps it only while the job is kept
// (Options.KeepCompleted).
func RecordOutput(ctx context.Context, v any) error {
	att, err := attemptFrom(ctx, "RecordOutput")
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("worker: RecordOutput: %w", err)
	}
	if len(b) > att.maxOutput {
		return fmt.Errorf("%w: the output of job %d is %d bytes of JSON, over the cap of %d bytes (worker.Options.MaxOutput)",
			ErrOutputTooLarge, att.jobID, len(b), att.maxOutput)
	}
	att.mu.Lock()
	defer att.mu.Unlock()
	if att.done {
		return fmt.Errorf("%w: RecordOutput after the handler of job %d returned", ErrNotInHandler, att.jobID)
	}
	att.output = b
	return nil
}

// ReportProgress reports how far the job whose handler ctx belongs to has
// got: fraction from 0 to 1 (NaN and other values are refused with an
// error wrapping queue.ErrInvalidArgument) and a short message, cut to
// queue.MaxProgressMessage bytes (invalid UTF-8 replaced). Report as often
// as is convenient: the pool writes the latest report with its next
// heartbeat, fenced by the job's lease, and with the attempt's settlement.
// Outside a handler's context it fails with ErrNotInHandler.
func ReportProgress(ctx context.Context, fraction float64, message string) error {
	att, err := attemptFrom(ctx, "ReportProgress")
	if err != nil {
		return err
	}
	message = capMessage(message)
	if err := queue.ValidProgress(fraction, message); err != nil {
		return fmt.Errorf("worker: ReportProgress: %w", err)
	}
	att.mu.Lock()
	defer att.mu.Unlock()
	if att.done {
		return fmt.Errorf("%w: ReportProgress after the handler of job %d returned", ErrNotInHandler, att.jobID)
	}
	att.progress = &queue.Progress{Fraction: fraction, Message: message, At: att.now()}
	att.seq++
	return nil
}

// capMessage makes message valid UTF-8 of at most queue.MaxProgressMessage
// bytes, cut at a character's start.
func capMessage(message string) string {
	message = strings.ToValidUTF8(message, "\uFFFD")
	if len(message) <= queue.MaxProgressMessage {
		return message
	}
	cut := queue.MaxProgressMessage
	for cut > 0 && !utf8.RuneStart(message[cut]) {
		cut--
	}
	return message[:cut]
}

// attempt is one running attempt's output and progress, which its
// handler's context carries.
type attempt struct {
	jobID     int64
	token     int64
	maxOutput int
	now       func() time.Time
	q         *queue.Queue // for Parents

	mu       sync.Mutex
	output   []byte
	progress *queue.Progress
	seq      int // counts progress reports
	written  int // seq of the report the store has
	done     bool
}

type attemptKey struct{}

// newAttempt returns the attempt of j and a context carrying it.
func (p *Pool) newAttempt(ctx context.Context, j *queue.Job) (*attempt, context.Context) {
	att := &attempt{jobID: j.ID, token: j.LeaseToken, maxOutput: p.opts.MaxOutput, now: p.q.Now, q: p.q}
	return att, context.WithValue(ctx, attemptKey{}, att)
}

// attemptFrom returns the attempt ctx carries.
func attemptFrom(ctx context.Context, fn string) (*attempt, error) {
	att, ok := ctx.Value(attemptKey{}).(*attempt)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotInHandler, fn)
	}
	return att, nil
}

// finish ends the attempt (later reports fail) and adds what it recorded
// to s: the output, and the latest progress unless the store has it.
func (att *attempt) finish(s *queue.Settlement) {
	att.mu.Lock()
	defer att.mu.Unlock()
	att.done = true
	att.fill(s)
}

// fill adds the attempt's output and unwritten progress to s. att.mu must
// be held.
func (att *attempt) fill(s *queue.Settlement) {
	s.Output = att.output
	if att.progress != nil && att.seq != att.written {
		p := *att.progress
		s.Progress = &p
	}
}

// unwritten returns the latest progress report if the store does not have
// it yet, with its sequence number for wrote.
func (att *attempt) unwritten() (queue.Progress, int, bool) {
	att.mu.Lock()
	defer att.mu.Unlock()
	if att.done || att.progress == nil || att.seq == att.written {
		return queue.Progress{}, 0, false
	}
	return *att.progress, att.seq, true
}

// wrote records that the store has the report numbered seq.
func (att *attempt) wrote(seq int) {
	att.mu.Lock()
	defer att.mu.Unlock()
	att.written = max(att.written, seq)
}

// writeProgress writes the latest unwritten progress report of each job
// the pool runs, on a store that records progress (queue.ProgressStore):
// Heartbeat's third part.
func (p *Pool) writeProgress(ctx context.Context) error {
	ps, ok := p.store.(queue.ProgressStore)
	if !ok {
		return nil
	}
	var (
		updates []queue.ProgressUpdate
		atts    []*attempt
		seqs    []int
	)
	p.mu.Lock()
	for _, a := range p.active {
		if a.att == nil || a.released || a.finished {
			continue
		}
		if pr, seq, ok := a.att.unwritten(); ok {
			updates = append(updates, queue.ProgressUpdate{JobID: a.job.ID, Token: a.job.LeaseToken, Progress: pr})
			atts, seqs = append(atts, a.att), append(seqs, seq)
		}
	}
	p.mu.Unlock()
	if len(updates) == 0 {
		return nil
	}
	errs, err := ps.RecordProgress(ctx, updates)
	if err != nil {
		return fmt.Errorf("worker: writing the progress of %d jobs: %w", len(updates), err)
	}
	for i, e := range errs {
		// A lost lease is the heartbeat's to act on; the report is moot.
		if e == nil || errors.Is(e, queue.ErrLeaseLost) {
			atts[i].wrote(seqs[i])
		}
	}
	return nil
}
