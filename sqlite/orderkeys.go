package sqlite

import (
	"context"
	"encoding/json"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
)

// Ordering keys. Of the jobs sharing a (queue, order key), only the oldest
// live one — the head — is ever pending, scheduled or running; the others
// wait in state blocked, outside the lease index. So the lease query never
// looks at an ordering key and runs at full speed, and when the head leaves
// (completed, cancelled, deleted, or dead with a queue that lets keys move
// on), promoteKeys makes the next blocked job of the key the head. A
// write that ends many heads at once (a settle batch, an expiry round)
// collects their keys and moves them all on with a few statements per
// queue.
//
// No index has a keyed job's state in its key (migration 0015), so a lease
// or a completion of a head moves no index entry of its key: the head is
// named by its key's row in spool_order_heads, written only when a job
// becomes the head (enqueue into a free key, promotion, a retried dead
// job), and the next job is the key's first in spool_jobs_blocked. A
// head that left makes its row stale (its job is no longer pending,
// scheduled or running): keyHasHead reads such a row as "no head", and
// promotion rewrites it for the next head or removes it.

// keyHasHead is an SQL condition: key k.value of queue ?1 has a head. The
// head row names the job by id; only that job's state says whether it
// still is the head. keyHasHead12 is the same for key ?2.
const (
	keyHasHead = `EXISTS (SELECT 1 FROM spool_jobs hj WHERE hj.id = (SELECT head_id FROM spool_order_heads
      WHERE queue = ?1 AND order_key = k.value) AND hj.state ` + keyHeadRangeSQL + `)`
	keyHasHead12 = `EXISTS (SELECT 1 FROM spool_jobs hj WHERE hj.id = (SELECT head_id FROM spool_order_heads
      WHERE queue = ?1 AND order_key = ?2) AND hj.state ` + keyHeadRangeSQL + `)`
)

const (
	// The statements that change many rows are OR FAIL: with the default
	// (ABORT) SQLite keeps a statement journal of every page they change,
	// spilled past 64 KiB to a temporary file that is opened and written at
	// every settle (publishwindow.go). Nothing here should break a
	// constraint; if something did, the error still rolls back the whole
	// write.
	//
	// sqlPromoteKeys makes ready the next blocked job of every key of ?2
	// (a JSON array of strings) in queue ?1 that has no head and no dead
	// job before it holding the key, and returns the new heads. The keys'
	// next blocked ids are gathered first, then promoted by id.
	sqlPromoteKeys = `UPDATE OR FAIL spool_jobs SET state = CASE WHEN run_at <= ?3 THEN ` + pendingSQL + ` ELSE ` + scheduledSQL + ` END
  WHERE id IN (SELECT (SELECT b.id FROM spool_jobs b WHERE b.queue = ?1 AND b.order_key = k.value AND b.state = ` + blockedSQL + ` ORDER BY b.id LIMIT 1)
      FROM json_each(?2) k
      WHERE NOT ` + keyHasHead + `)
    AND NOT EXISTS (SELECT 1 FROM spool_dead d WHERE d.queue = ?1 AND d.order_key = spool_jobs.order_key AND d.blocks_key
      AND d.id < spool_jobs.id)
  RETURNING id`
	// sqlSetHeads names the jobs of ?1 (a JSON array of ids) their keys'
	// heads.
	sqlSetHeads = `INSERT OR FAIL INTO spool_order_heads (queue, order_key, head_id)
  SELECT queue, order_key, id FROM spool_jobs WHERE id IN (SELECT value FROM json_each(?1))
  ON CONFLICT (queue, order_key) DO UPDATE SET head_id = excluded.head_id`
	// sqlSetHead names job ?3 the head of key ?2 of queue ?1.
	sqlSetHead = `INSERT INTO spool_order_heads (queue, order_key, head_id) VALUES (?1, ?2, ?3)
  ON CONFLICT (queue, order_key) DO UPDATE SET head_id = excluded.head_id`
	// sqlDropStaleHeads removes the stale head rows of the keys of ?2 in
	// queue ?1: keys that were left without a head.
	sqlDropStaleHeads = `DELETE FROM spool_order_heads WHERE queue = ?1 AND order_key IN (SELECT value FROM json_each(?2))
    AND NOT EXISTS (SELECT 1 FROM spool_jobs hj WHERE hj.id = head_id AND hj.state ` + keyHeadRangeSQL + `)`
	// deadBlocksKey decides, as a job dies, whether it holds its key.
	deadBlocksKey = `CASE WHEN order_key IS NULL THEN 0
    ELSE NOT coalesce((SELECT dead_skips_key FROM spool_queues WHERE name = spool_jobs.queue), 0) END`
)

// promoteNext makes the next blocked job of the key ready, if the key is
// free. A no-op for jobs without a key.
func promoteNext(ctx context.Context, x *xtx, queueName, key string, now time.Time) error {
	var p sqlstore.KeyPromotions
	p.Add(queueName, key, now)
	return promoteKeys(ctx, x, &p)
}

// promoteKeys moves on every key in p, a few statements per queue: a
// settle batch's keys move on together. Each key without a head gets its
// next blocked job as its head, or, with none to promote, loses its stale
// head row.
func promoteKeys(ctx context.Context, x *xtx, p *sqlstore.KeyPromotions) error {
	now := micros(p.Now())
	return p.Each(func(queueName string, keys []string) error {
		rows, err := x.query(ctx, sqlPromoteKeys, queueName, sqlstore.KeyList(keys), now)
		if err != nil {
			return err
		}
		var heads []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			heads = append(heads, id)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(heads) > 0 {
			b, _ := json.Marshal(heads) // []int64 always encodes
			if _, err := x.exec(ctx, sqlSetHeads, string(b)); err != nil {
				return err
			}
		}
		if len(heads) < len(keys) {
			// Some keys were not moved on: busy, or left without a head.
			_, err := x.exec(ctx, sqlDropStaleHeads, queueName, sqlstore.KeyList(keys))
			return err
		}
		return nil
	})
}

// setHead names job id the head of its key (a job that becomes the head
// outside promotion: enqueued into a free key, a retried dead job).
func setHead(ctx context.Context, x *xtx, queueName, key string, id int64) error {
	_, err := x.exec(ctx, sqlSetHead, queueName, key, id)
	return err
}
