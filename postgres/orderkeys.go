package postgres

import (
	"context"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
)

// Ordering keys. Of the jobs sharing a (queue, order key), only the oldest
// live one, the head, is ever pending, scheduled or running; the others
// wait in state blocked, outside the lease index. When the head leaves
// (completed, cancelled, deleted, or dead in a queue that lets keys move
// on), promoteNext makes the next blocked job of the key the head. A
// write that ends many heads at once (a settle batch, an expiry round)
// locks their keys in one statement (sqlLockKeys) and moves them all on
// with one statement per queue (promoteKeys).
//
// Several hosts write at once, so every write that decides a key's head
// (an enqueue of a keyed job, a promotion) first takes the key's
// transaction-scoped advisory lock (lockKey): two enqueues of one key can
// then never both find the key free.

const (
	// sqlLockKey hashes (schema, queue, key) into one advisory lock: the
	// queue's length prefix keeps "a"+"bc" apart from "ab"+"c", and a
	// collision of two keys' hashes only makes them wait for each other.
	sqlLockKey     = `SELECT pg_advisory_xact_lock(hashtextextended(length($2)::text || ':' || $2 || $3, hashtextextended($1, 0)))`
	sqlPromoteNext = `UPDATE spool.jobs j SET state = CASE WHEN j.run_at <= $3 THEN ` + pendingSQL + ` ELSE ` + scheduledSQL + ` END
  WHERE j.id = (SELECT id FROM spool.jobs WHERE queue = $1 AND order_key = $2 AND state = ` + blockedSQL + ` ORDER BY id LIMIT 1)
    AND NOT EXISTS (SELECT 1 FROM spool.jobs WHERE queue = $1 AND order_key = $2 AND state IN ` + keyHeadSQL + `)
    AND NOT EXISTS (SELECT 1 FROM spool.dead d WHERE d.queue = $1 AND d.order_key = $2 AND d.blocks_key
      AND d.id < j.id)`
	// sqlLockKeys is sqlLockKey for every (queue, key) of $2 and $3 in
	// one statement, in the arrays' order (the callers sort them, so that
	// two settles lock shared keys in one order): the ORDER BY n of the
	// inner query puts the lock calls after the sort, whatever plan the
	// unnest gets.
	sqlLockKeys = `SELECT count(*) FROM (
  SELECT pg_advisory_xact_lock(hashtextextended(length(k.queue)::text || ':' || k.queue || k.key, hashtextextended($1, 0)))
  FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS k(queue, key, n) ORDER BY n) locked`
	// sqlPromoteKeys is sqlPromoteNext for every key of $2 in queue $1 at
	// once: the ids of the keys' next blocked jobs (keys that are busy or
	// have none left give none) are gathered first, then promoted by id.
	sqlPromoteKeys = `WITH next AS (
  SELECT (SELECT b.id FROM spool.jobs b WHERE b.queue = $1 AND b.order_key = k.key AND b.state = ` + blockedSQL + ` ORDER BY b.id LIMIT 1) AS id
  FROM unnest($2::text[]) AS k(key)
  WHERE NOT EXISTS (SELECT 1 FROM spool.jobs h WHERE h.queue = $1 AND h.order_key = k.key AND h.state IN ` + keyHeadSQL + `))
UPDATE spool.jobs j SET state = CASE WHEN j.run_at <= $3 THEN ` + pendingSQL + ` ELSE ` + scheduledSQL + ` END
  FROM next WHERE j.id = next.id
    AND NOT EXISTS (SELECT 1 FROM spool.dead d WHERE d.queue = $1 AND d.order_key = j.order_key AND d.blocks_key
      AND d.id < j.id)`
	// deadBlocksKey decides, as a job dies, whether it holds its key. It
	// reads the columns of the dying row as "j".
	deadBlocksKey = `CASE WHEN j.order_key IS NULL THEN false
    ELSE NOT coalesce((SELECT dead_skips_key FROM spool.queues WHERE name = j.queue), false) END`
)

// lockKey takes the advisory lock of (queue, key) for the rest of x's
// transaction. A no-op for jobs without a key.
func lockKey(ctx context.Context, x *xtx, queueName, key string) error {
	if key == "" {
		return nil
	}
	_, err := x.exec(ctx, sqlLockKey, x.s.schema, queueName, key)
	return err
}

// promoteNext makes the next blocked job of the key ready, if the key is
// free. A no-op for jobs without a key.
func promoteNext(ctx context.Context, x *xtx, queueName, key string, now time.Time) error {
	if key == "" {
		return nil
	}
	if err := lockKey(ctx, x, queueName, key); err != nil {
		return err
	}
	_, err := x.exec(ctx, sqlPromoteNext, queueName, key, x.f.us(now))
	if err == nil {
		x.wake(queueName)
	}
	return err
}

// promoteKeys is promoteNext for every key in p, one statement per queue:
// a settle batch's keys move on together. The caller holds the keys'
// locks (lockKeysInOrder).
func promoteKeys(ctx context.Context, x *xtx, p *sqlstore.KeyPromotions) error {
	now := x.f.us(p.Now())
	return p.Each(func(queueName string, keys []string) error {
		if _, err := x.exec(ctx, sqlPromoteKeys, queueName, keys, now); err != nil {
			return err
		}
		x.wake(queueName)
		return nil
	})
}
