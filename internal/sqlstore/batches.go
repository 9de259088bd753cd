package sqlstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/spooljobs/spool/queue"
)

// callback is a batch callback as both stores keep it (JSON), the fields of
// a normalised queue.NewJob that a callback job takes.
type callback struct {
	Kind        string            `json:"kind"`
	Queue       string            `json:"queue"`
	Payload     []byte            `json:"payload"`
	Priority    int               `json:"priority,omitempty"`
	MaxAttempts int               `json:"max_attempts"`
	TimeoutUS   int64             `json:"timeout_us,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	UniqueKey   string            `json:"unique_key,omitempty"`
}

// EncodeCallback encodes a normalised callback job (nil: SQL NULL).
func EncodeCallback(j *queue.NewJob) (any, error) {
	if j == nil {
		return nil, nil
	}
	b, err := json.Marshal(callback{Kind: j.Kind, Queue: j.Queue, Payload: j.Payload, Priority: j.Priority,
		MaxAttempts: j.MaxAttempts, TimeoutUS: j.Timeout.Microseconds(), Metadata: j.Metadata, UniqueKey: j.UniqueKey})
	return string(b), err
}

// DecodeCallback decodes a callback of batch id into the job to enqueue,
// due at now, with the batch's id in its metadata.
func DecodeCallback(text string, batch int64, now time.Time) (queue.NewJob, error) {
	var c callback
	if err := json.Unmarshal([]byte(text), &c); err != nil {
		return queue.NewJob{}, err
	}
	md := map[string]string{}
	for k, v := range c.Metadata {
		md[k] = v
	}
	md[queue.BatchMetadataKey] = strconv.FormatInt(batch, 10)
	return queue.NewJob{Kind: c.Kind, Queue: c.Queue, Payload: c.Payload, Priority: c.Priority, MaxAttempts: c.MaxAttempts,
		Timeout: time.Duration(c.TimeoutUS) * time.Microsecond, Metadata: md, UniqueKey: c.UniqueKey, RunAt: now}, nil
}

// BatchCounts adds up members' ends per batch: succeeded, dead, cancelled.
type BatchCounts map[int64]*[3]int

// Add counts one member of batch that ended with outcome (a Dep* code).
func (c BatchCounts) Add(batch int64, outcome int) {
	n := c[batch]
	if n == nil {
		n = &[3]int{}
		c[batch] = n
	}
	switch outcome {
	case DepCompleted:
		n[0]++
	case DepDead:
		n[1]++
	default:
		n[2]++
	}
}

// BatchState is what a store reads of a batch to decide its callbacks.
type BatchState struct {
	Closed                            bool
	Total, Succeeded, Dead, Cancelled int
	// Fired: success, complete, death.
	Fired [3]bool
}

// Due lists the callbacks (0 success, 1 complete, 2 death) whose moment
// came and that have not fired.
func (b BatchState) Due() []int {
	var due []int
	if b.Closed && b.Succeeded == b.Total && !b.Fired[0] {
		due = append(due, 0)
	}
	if b.Closed && b.Succeeded+b.Dead+b.Cancelled == b.Total && !b.Fired[1] {
		due = append(due, 1)
	}
	if b.Dead > 0 && !b.Fired[2] {
		due = append(due, 2)
	}
	return due
}

// NewBatch is what a store's CreateBatch encodes before its transaction:
// the members' metadata (JobsMetadata), the three callbacks
// (EncodeCallback: OnSuccess, OnComplete, OnDeath) and the members per
// queue, for the queues' room check.
type NewBatch struct {
	Meta      []any
	Callbacks [3]any
	PerQueue  map[string]int
}

// EncodeBatch prepares spec and its jobs for a store's CreateBatch.
func EncodeBatch(spec queue.BatchSpec, jobs []queue.NewJob) (NewBatch, error) {
	var b NewBatch
	var err error
	if b.Meta, err = JobsMetadata(jobs); err != nil {
		return b, err
	}
	for i, cb := range []*queue.NewJob{spec.OnSuccess, spec.OnComplete, spec.OnDeath} {
		if b.Callbacks[i], err = EncodeCallback(cb); err != nil {
			return b, fmt.Errorf("batch callback: %w", err)
		}
	}
	b.PerQueue = map[string]int{}
	for _, j := range jobs {
		b.PerQueue[j.Queue]++
	}
	return b, nil
}
