package sqlite

import (
	"context"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
)

// Ordering keys. Of the jobs sharing a (queue, order key), only the oldest
// live one — the head — is ever pending, scheduled or running; the others
// wait in state blocked, outside the lease index. So the lease query never
// looks at an ordering key and runs at full speed, and when the head leaves
// (completed, cancelled, deleted, or dead with a queue that lets keys move
// on), promoteNext makes the next blocked job of the key the head. A
// write that ends many heads at once (a settle batch, an expiry round)
// collects their keys and moves them all on with one statement per queue
// (promoteKeys).

const (
	sqlPromoteNext = `UPDATE spool_jobs SET state = CASE WHEN run_at <= ?3 THEN ` + pendingSQL + ` ELSE ` + scheduledSQL + ` END
  WHERE id = (SELECT id FROM spool_jobs WHERE queue = ?1 AND order_key = ?2 AND state = ` + blockedSQL + ` ORDER BY id LIMIT 1)
    AND NOT EXISTS (SELECT 1 FROM spool_jobs WHERE queue = ?1 AND order_key = ?2 AND state ` + keyHeadRangeSQL + `)
    AND NOT EXISTS (SELECT 1 FROM spool_dead d WHERE d.queue = ?1 AND d.order_key = ?2 AND d.blocks_key
      AND d.id < spool_jobs.id)`
	// sqlPromoteKeys is sqlPromoteNext for every key of ?2 (a JSON array
	// of strings) in queue ?1 at once: the ids of the keys' next blocked
	// jobs (keys that are busy or have none left give none) are gathered
	// first, then promoted by id.
	sqlPromoteKeys = `UPDATE spool_jobs SET state = CASE WHEN run_at <= ?3 THEN ` + pendingSQL + ` ELSE ` + scheduledSQL + ` END
  WHERE id IN (SELECT (SELECT b.id FROM spool_jobs b WHERE b.queue = ?1 AND b.order_key = k.value AND b.state = ` + blockedSQL + ` ORDER BY b.id LIMIT 1)
      FROM json_each(?2) k
      WHERE NOT EXISTS (SELECT 1 FROM spool_jobs h WHERE h.queue = ?1 AND h.order_key = k.value AND h.state ` + keyHeadRangeSQL + `))
    AND NOT EXISTS (SELECT 1 FROM spool_dead d WHERE d.queue = ?1 AND d.order_key = spool_jobs.order_key AND d.blocks_key
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

// promoteKeys is promoteNext for every key in p, one statement per queue:
// a settle batch's keys move on together.
func promoteKeys(ctx context.Context, x *xtx, p *sqlstore.KeyPromotions) error {
	now := micros(p.Now())
	return p.Each(func(queueName string, keys []string) error {
		if len(keys) == 1 {
			_, err := x.exec(ctx, sqlPromoteNext, queueName, keys[0], now)
			return err
		}
		_, err := x.exec(ctx, sqlPromoteKeys, queueName, sqlstore.KeyList(keys), now)
		return err
	})
}
