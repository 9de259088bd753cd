package sqlite

import (
	"context"
	"time"
)

// Ordering keys. Of the jobs sharing a (queue, order key), only the oldest
// live one — the head — is ever pending, scheduled or running; the others
// wait in state blocked, outside the lease index. So the lease query never
// looks at an ordering key and runs at full speed, and when the head leaves
// (completed, cancelled, deleted, or dead with a queue that lets keys move
// on), promoteNext makes the next blocked job of the key the head.

const (
	sqlPromoteNext = `UPDATE spool_jobs SET state = CASE WHEN run_at <= ?3 THEN ` + pendingSQL + ` ELSE ` + scheduledSQL + ` END
  WHERE id = (SELECT id FROM spool_jobs WHERE queue = ?1 AND order_key = ?2 AND state = ` + blockedSQL + ` ORDER BY id LIMIT 1)
    AND NOT EXISTS (SELECT 1 FROM spool_jobs WHERE queue = ?1 AND order_key = ?2 AND state IN ` + keyHeadSQL + `)
    AND NOT EXISTS (SELECT 1 FROM spool_dead d WHERE d.queue = ?1 AND d.order_key = ?2 AND d.blocks_key
      AND d.id < spool_jobs.id)`
	// deadBlocksKey decides, as a job dies, whether it holds its key.
	deadBlocksKey = `CASE WHEN order_key IS NULL THEN 0
    ELSE NOT coalesce((SELECT dead_skips_key FROM spool_queues WHERE name = spool_jobs.queue), 0) END`
)

// promoteNext makes the next blocked job of the key ready, if the key is
// free. A no-op for jobs without a key.
func promoteNext(ctx context.Context, x *xtx, queueName, key string, now time.Time) error {
	if key == "" {
		return nil
	}
	_, err := x.exec(ctx, sqlPromoteNext, queueName, key, micros(now))
	return err
}
