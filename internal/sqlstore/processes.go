package sqlstore

import (
	"encoding/json"
	"fmt"

	"github.com/spooljobs/spool/queue"
)

// processQueue is one queue of a process row's queues column (JSON).
type processQueue struct {
	Name        string `json:"name"`
	Concurrency int    `json:"concurrency"`
	Running     int    `json:"running"`
}

// EncodeProcessQueues is the queues column of a process row: a JSON array.
func EncodeProcessQueues(qs []queue.ProcessQueue) (string, error) {
	out := make([]processQueue, len(qs))
	for i, q := range qs {
		out[i] = processQueue(q)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode the process's queues: %w", err)
	}
	return string(b), nil
}

// DecodeProcessQueues reads a process row's queues column.
func DecodeProcessQueues(s string) ([]queue.ProcessQueue, error) {
	var in []processQueue
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, fmt.Errorf("decode a process's queues: %w", err)
	}
	out := make([]queue.ProcessQueue, len(in))
	for i, q := range in {
		out[i] = queue.ProcessQueue(q)
	}
	return out, nil
}
