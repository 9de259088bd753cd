package worker

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spooljobs/spool/queue"
)

// Parents returns the parents of the job whose handler ctx belongs to
// (queue.NewJob.DependsOn), in id order, with how each ended and the
// output it recorded (RecordOutput): a job that waited for its parents
// reads their results here, also when a completed parent was deleted. A
// job that runs although a parent failed (queue.ParentFailureRun) sees
// that parent's state. Outside a handler's context it fails with
// ErrNotInHandler.
func Parents(ctx context.Context) ([]queue.Dependency, error) {
	att, err := attemptFrom(ctx, "Parents")
	if err != nil {
		return nil, err
	}
	d, err := att.q.Inspector().Dependencies(ctx, att.jobID)
	if err != nil {
		return nil, fmt.Errorf("worker: Parents: %w", err)
	}
	return d.Parents, nil
}

// ParentOutputs returns the outputs the parents of the job whose handler
// ctx belongs to recorded, by parent id; a parent that recorded none is
// left out. See Parents.
func ParentOutputs(ctx context.Context) (map[int64]json.RawMessage, error) {
	parents, err := Parents(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]json.RawMessage, len(parents))
	for _, p := range parents {
		if p.Output != nil {
			out[p.ID] = json.RawMessage(p.Output)
		}
	}
	return out, nil
}
