package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
)

// Ordering keys. Of the jobs sharing a (queue, order key), only the oldest
// live one, the head, is ever pending, scheduled or running; the others
// wait in state blocked, outside the lease index. The head is named by its
// key's row in spool.order_heads and the next job is the key's first in
// jobs_blocked (migration 0014): no index has a keyed job's state in its
// key. When the head leaves
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

// keyHasHead is an SQL condition: key $2 of queue $1 has a head. The head
// row names the job by id; only that job's state says whether it still is
// the head (a row whose job left is stale).
const keyHasHead = `EXISTS (SELECT 1 FROM spool.order_heads h JOIN spool.jobs hj ON hj.id = h.head_id
    WHERE h.queue = $1 AND h.order_key = $2 AND hj.state IN ` + keyHeadSQL + `)`

const (
	// sqlLockKey hashes (schema, queue, key) into one advisory lock: the
	// queue's length prefix keeps "a"+"bc" apart from "ab"+"c", and a
	// collision of two keys' hashes only makes them wait for each other.
	sqlLockKey = `SELECT pg_advisory_xact_lock(hashtextextended(length($2)::text || ':' || $2 || $3, hashtextextended($1, 0)))`
	// sqlLockKeys is sqlLockKey for every (queue, key) of $2 and $3 in
	// one statement, in the arrays' order (the callers sort them, so that
	// two settles lock shared keys in one order): the ORDER BY n of the
	// inner query puts the lock calls after the sort, whatever plan the
	// unnest gets.
	sqlLockKeys = `SELECT count(*) FROM (
  SELECT pg_advisory_xact_lock(hashtextextended(length(k.queue)::text || ':' || k.queue || k.key, hashtextextended($1, 0)))
  FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS k(queue, key, n) ORDER BY n) locked`
	// sqlPromoteKeys moves on every key of $2 and $4 in queue $1: a key
	// without a head gets its next blocked job (unless a dead job before
	// it holds the key) as its head, named in its head row; a key left
	// with no head loses its stale row. The keys of $4 were freed by the
	// write (sqlstore.KeyPromotions.AddSettled: their head ended under
	// the key's lock), so they need no head check. The keys' next blocked
	// ids are gathered first, then promoted by id. The statements of one
	// WITH see one snapshot: the rows deleted are those of keys not
	// promoted.
	sqlPromoteKeys = `WITH next AS (
  SELECT (SELECT b.id FROM spool.jobs b WHERE b.queue = $1 AND b.order_key = k.key AND b.state = ` + blockedSQL + ` ORDER BY b.id LIMIT 1) AS id
  FROM unnest($2::text[]) AS k(key)
  WHERE NOT EXISTS (SELECT 1 FROM spool.order_heads h JOIN spool.jobs hj ON hj.id = h.head_id
    WHERE h.queue = $1 AND h.order_key = k.key AND hj.state IN ` + keyHeadSQL + `)
  UNION ALL
  SELECT (SELECT b.id FROM spool.jobs b WHERE b.queue = $1 AND b.order_key = f.key AND b.state = ` + blockedSQL + ` ORDER BY b.id LIMIT 1)
  FROM unnest($4::text[]) AS f(key)),
promoted AS (
  UPDATE spool.jobs j SET state = CASE WHEN j.run_at <= $3 THEN ` + pendingSQL + ` ELSE ` + scheduledSQL + ` END
  FROM next WHERE j.id = next.id
    AND NOT EXISTS (SELECT 1 FROM spool.dead d WHERE d.queue = $1 AND d.order_key = j.order_key AND d.blocks_key
      AND d.id < j.id)
  RETURNING j.order_key, j.id),
named AS (
  INSERT INTO spool.order_heads (queue, order_key, head_id) SELECT $1, order_key, id FROM promoted
  ON CONFLICT (queue, order_key) DO UPDATE SET head_id = excluded.head_id)
DELETE FROM spool.order_heads h WHERE h.queue = $1 AND (h.order_key = ANY($2::text[]) OR h.order_key = ANY($4::text[]))
  AND NOT EXISTS (SELECT 1 FROM promoted p WHERE p.order_key = h.order_key)
  AND NOT EXISTS (SELECT 1 FROM spool.jobs hj WHERE hj.id = h.head_id AND hj.state IN ` + keyHeadSQL + `)`
	// sqlSetHead names job $3 the head of key $2 of queue $1.
	sqlSetHead = `INSERT INTO spool.order_heads (queue, order_key, head_id) VALUES ($1, $2, $3)
  ON CONFLICT (queue, order_key) DO UPDATE SET head_id = excluded.head_id`
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

// sqlJobKey reads a live job's queue and ordering key.
const sqlJobKey = `SELECT queue, order_key FROM spool.jobs WHERE id = $1`

// lockJobKey takes the lock of live job id's ordering key, if it has one,
// before a write changes the job's row (Cancel, Delete): key locks come
// before job rows (lockKeysInOrder). A write that changed the row first
// and then waited for the key would deadlock with one that holds the key
// and promotes that job. A job's queue and key never change, so reading
// them before the lock is safe.
func lockJobKey(ctx context.Context, x *xtx, id int64) error {
	var qname string
	var key sql.NullString
	found, err := sqlstore.Found(x.queryRow(ctx, sqlJobKey, id).Scan(&qname, &key))
	if !found || err != nil || !key.Valid {
		return err
	}
	return lockKey(ctx, x, qname, key.String)
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
	var p sqlstore.KeyPromotions
	p.Add(queueName, key, now)
	return promoteKeys(ctx, x, &p)
}

// setHead names job id the head of its key (a job that becomes the head
// outside promotion: enqueued into a free key, a retried dead job). The
// caller holds the key's lock.
func setHead(ctx context.Context, x *xtx, queueName, key string, id int64) error {
	_, err := x.exec(ctx, sqlSetHead, queueName, key, id)
	return err
}

// promoteKeys is promoteNext for every key in p, one statement per queue:
// a settle batch's keys move on together. The caller holds the keys'
// locks (lockKeysInOrder).
func promoteKeys(ctx context.Context, x *xtx, p *sqlstore.KeyPromotions) error {
	now := x.f.us(p.Now())
	return p.Each(func(queueName string, busy, freed []string) error {
		if busy == nil {
			busy = []string{} // an empty array, not NULL
		}
		if freed == nil {
			freed = []string{}
		}
		if _, err := x.exec(ctx, sqlPromoteKeys, queueName, busy, now, freed); err != nil {
			return err
		}
		x.wake(queueName)
		return nil
	})
}
