package sqlstore

import (
	"fmt"
	"time"

	"github.com/spooljobs/spool/internal/jobcodec"
	"github.com/spooljobs/spool/queue"
)

// ReadyCode is the state code of a new job that heads its ordering key (or
// has none): scheduled when it runs after now, else pending.
func ReadyCode(j queue.NewJob, now time.Time) int {
	if j.RunAt.After(now) {
		return CodeScheduled
	}
	return CodePending
}

// Plain reports whether j has no unique key, ordering key, partition key, expiry,
// parents or batch: it can neither conflict with a live job nor wait behind one,
// and may go in on a store's bulk path.
func Plain(j queue.NewJob) bool {
	return j.UniqueKey == "" && j.OrderKey == "" && j.PartitionKey == "" && j.ExpiresAt.IsZero() && len(j.DependsOn) == 0 && j.Batch == 0
}

// JobsMetadata returns the metadata column of each job
// (jobcodec.EncodeMetadata), in order.
func JobsMetadata(jobs []queue.NewJob) ([]any, error) {
	meta := make([]any, len(jobs))
	for i, j := range jobs {
		m, err := jobcodec.EncodeMetadata(j.Metadata)
		if err != nil {
			return nil, fmt.Errorf("job %d metadata: %w", i, err)
		}
		meta[i] = m
	}
	return meta, nil
}
