package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/spooljobs/spool/queue"
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

// Expiry: a job not started by its ExpiresAt dies with the reason
// "expired". The lease of a queue expires that queue's jobs first, so an
// expired job never starts.
const (
	sqlExpiredWaiting = `SELECT id, order_key, expires_at FROM spool_jobs
  WHERE queue = ? AND expires_at <= ? AND expires_at IS NOT NULL AND state IN ` + waitingSQL + ` LIMIT 100`
	sqlDeadInsertWaiting = `INSERT INTO spool_dead
  (id, queue, kind, priority, attempt, max_attempts, timeout_us, created_at, run_at, attempted_at,
   died_at, reason, unique_key, order_key, blocks_key, expires_at, metadata, errors, payload)
  SELECT id, queue, kind, priority, attempt, max_attempts, timeout_us, created_at, run_at, attempted_at,
   ?1, ?2, unique_key, order_key, ` + deadBlocksKey + `, expires_at, metadata, errors, payload
  FROM spool_jobs WHERE id = ?3 AND state IN ` + waitingSQL
)

func expireWaiting(ctx context.Context, x *xtx, queueName string, now time.Time) error {
	type exp struct {
		id  int64
		key sql.NullString
		at  int64
	}
	var list []exp
	rows, err := x.query(ctx, sqlExpiredWaiting, queueName, micros(now))
	if err != nil {
		return err
	}
	for rows.Next() {
		var e exp
		if err := rows.Scan(&e.id, &e.key, &e.at); err != nil {
			rows.Close()
			return err
		}
		list = append(list, e)
	}
	if err := endRows(rows); err != nil {
		return err
	}
	for _, e := range list {
		reason := fmt.Sprintf("expired: not started by %s", time.UnixMicro(e.at).UTC().Format(time.RFC3339))
		r, err := x.exec(ctx, sqlDeadInsertWaiting, micros(now), reason, e.id)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			continue
		}
		if _, err := x.exec(ctx, sqlDeadDelete, e.id); err != nil {
			return err
		}
		if err := promoteNext(ctx, x, queueName, e.key.String, now); err != nil {
			return err
		}
	}
	return nil
}

const (
	sqlSetQueueSettings = `INSERT INTO spool_queues (name, max_pending, dead_skips_key, updated_at) VALUES (?1, ?2, ?3, ?4)
  ON CONFLICT (name) DO UPDATE SET max_pending = ?2, dead_skips_key = ?3, updated_at = ?4`
	sqlBlockingDeadKeys = `SELECT DISTINCT order_key FROM spool_dead WHERE queue = ? AND order_key IS NOT NULL AND blocks_key`
	sqlUnblockDead      = `UPDATE spool_dead SET blocks_key = 0 WHERE queue = ? AND order_key IS NOT NULL AND blocks_key`
)

// SetQueueSettings implements queue.Store. Switching DeadSkipsKey on
// releases the keys that dead jobs of the queue hold now.
func (s *Store) SetQueueSettings(ctx context.Context, tx *sql.Tx, name string, qs queue.QueueSettings, now time.Time) error {
	var limit any
	if qs.MaxPending > 0 {
		limit = qs.MaxPending
	}
	return s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		if _, err := x.exec(ctx, sqlSetQueueSettings, name, limit, qs.DeadSkipsKey, micros(now)); err != nil {
			return err
		}
		delete(x.limits, name)
		if !qs.DeadSkipsKey {
			return nil
		}
		rows, err := x.query(ctx, sqlBlockingDeadKeys, name)
		if err != nil {
			return err
		}
		var keys []string
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return err
			}
			keys = append(keys, k)
		}
		if err := endRows(rows); err != nil {
			return err
		}
		if _, err := x.exec(ctx, sqlUnblockDead, name); err != nil {
			return err
		}
		for _, k := range keys {
			if err := promoteNext(ctx, x, name, k, now); err != nil {
				return err
			}
		}
		return nil
	})
}

const sqlMarkProcessed = `INSERT INTO spool_processed (key, processed_at) VALUES (?, ?) ON CONFLICT DO NOTHING`

// MarkProcessed implements queue.Store.
func (s *Store) MarkProcessed(ctx context.Context, tx *sql.Tx, key string, now time.Time) (bool, error) {
	var first bool
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		r, err := x.exec(ctx, sqlMarkProcessed, key, micros(now))
		if err != nil {
			return err
		}
		n, _ := r.RowsAffected()
		first = n == 1
		return nil
	})
	return first, err
}
