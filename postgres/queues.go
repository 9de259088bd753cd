package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Per-queue settings, in spool.queues, seen by every host on the database.

const sqlSetPaused = `INSERT INTO spool.queues (name, paused, updated_at) VALUES ($1, $2, $3)
  ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at`

// SetPaused implements queue.Store. Resuming wakes the queue's workers.
func (s *Store) SetPaused(ctx context.Context, tx *sql.Tx, name string, paused bool, now time.Time) error {
	return s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		if _, err := x.exec(ctx, sqlSetPaused, name, paused, x.f.us(now)); err != nil {
			return err
		}
		if !paused {
			x.wake(name)
		}
		return nil
	})
}

const (
	sqlSetQueueSettings = `INSERT INTO spool.queues (name, max_pending, dead_skips_key, updated_at, max_running, rate_limit, rate_period_us,
    max_running_per_key, rate_limit_per_key, rate_period_per_key_us)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
  ON CONFLICT (name) DO UPDATE SET max_pending = excluded.max_pending, dead_skips_key = excluded.dead_skips_key,
    updated_at = excluded.updated_at, max_running = excluded.max_running,
    rate_limit = excluded.rate_limit, rate_period_us = excluded.rate_period_us,
    max_running_per_key = excluded.max_running_per_key, rate_limit_per_key = excluded.rate_limit_per_key,
    rate_period_per_key_us = excluded.rate_period_per_key_us`
	sqlBlockingDeadKeys = `SELECT DISTINCT order_key FROM spool.dead WHERE queue = $1 AND order_key IS NOT NULL AND blocks_key
  ORDER BY order_key`
	sqlUnblockDead = `UPDATE spool.dead SET blocks_key = false WHERE queue = $1 AND order_key IS NOT NULL AND blocks_key`
)

// SetQueueSettings implements queue.Store. Switching DeadSkipsKey on
// releases the keys that dead jobs of the queue hold now. It wakes the
// queue's workers: keys a dead job held may have moved on.
func (s *Store) SetQueueSettings(ctx context.Context, tx *sql.Tx, name string, qs queue.QueueSettings, now time.Time) error {
	limit, running := nullPositive(qs.MaxPending), nullPositive(qs.MaxRunning)
	rate, period := sqlstore.RateSetting(qs)
	keyRate, keyPeriod := sqlstore.KeyRateSetting(qs)
	return s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		if _, err := x.exec(ctx, sqlSetQueueSettings, name, limit, qs.DeadSkipsKey, x.f.us(now), running, rate, period,
			nullPositive(qs.MaxRunningPerKey), keyRate, keyPeriod); err != nil {
			return err
		}
		x.wake(name)
		if !qs.DeadSkipsKey {
			return nil
		}
		rows, err := x.query(ctx, sqlBlockingDeadKeys, name)
		if err != nil {
			return err
		}
		keys, err := collect(rows, func(r scanner) (string, error) {
			var k string
			err := r.Scan(&k)
			return k, err
		})
		if err != nil {
			return err
		}
		if _, err := x.exec(ctx, sqlUnblockDead, name); err != nil {
			return err
		}
		var promote sqlstore.KeyPromotions
		locks := make([]queueKey, len(keys))
		for i, k := range keys {
			promote.Add(name, k, now)
			locks[i] = queueKey{name, k}
		}
		if err := lockKeysInOrder(ctx, x, locks); err != nil {
			return err
		}
		return promoteKeys(ctx, x, &promote)
	})
}

// nullPositive is n for a limit that is set, NULL for 0 (no limit).
func nullPositive(n int) any {
	if n > 0 {
		return n
	}
	return nil
}
