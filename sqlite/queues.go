package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Per-queue settings, in spool_queues, seen by every process on the file.

const sqlSetPaused = `INSERT INTO spool_queues (name, paused, updated_at) VALUES (?, ?, ?)
  ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at`

// SetPaused implements queue.Store.
func (s *Store) SetPaused(ctx context.Context, tx *sql.Tx, name string, paused bool, now time.Time) error {
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		_, err := x.exec(ctx, sqlSetPaused, name, paused, micros(now))
		return err
	})
	if err == nil && !paused {
		s.wakeAfter(tx, name)
	}
	return err
}

const (
	sqlSetQueueSettings = `INSERT INTO spool_queues (name, max_pending, dead_skips_key, updated_at, max_running, rate_limit, rate_period_us,
    max_running_per_key, rate_limit_per_key, rate_period_per_key_us)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
  ON CONFLICT (name) DO UPDATE SET max_pending = ?2, dead_skips_key = ?3, updated_at = ?4, max_running = ?5,
    rate_limit = ?6, rate_period_us = ?7, max_running_per_key = ?8, rate_limit_per_key = ?9, rate_period_per_key_us = ?10`
	sqlBlockingDeadKeys = `SELECT DISTINCT order_key FROM spool_dead WHERE queue = ? AND order_key IS NOT NULL AND blocks_key`
	sqlUnblockDead      = `UPDATE spool_dead SET blocks_key = 0 WHERE queue = ? AND order_key IS NOT NULL AND blocks_key`
)

// SetQueueSettings implements queue.Store. Switching DeadSkipsKey on
// releases the keys that dead jobs of the queue hold now.
func (s *Store) SetQueueSettings(ctx context.Context, tx *sql.Tx, name string, qs queue.QueueSettings, now time.Time) error {
	limit, running := nullPositive(qs.MaxPending), nullPositive(qs.MaxRunning)
	rate, period := sqlstore.RateSetting(qs)
	keyRate, keyPeriod := sqlstore.KeyRateSetting(qs)
	err := s.write(ctx, tx, func(ctx context.Context, x *xtx) error {
		if _, err := x.exec(ctx, sqlSetQueueSettings, name, limit, qs.DeadSkipsKey, micros(now), running, rate, period,
			nullPositive(qs.MaxRunningPerKey), keyRate, keyPeriod); err != nil {
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
		keys, err := collect(rows, scanString)
		if err != nil {
			return err
		}
		if _, err := x.exec(ctx, sqlUnblockDead, name); err != nil {
			return err
		}
		var promote sqlstore.KeyPromotions
		for _, k := range keys {
			promote.Add(name, k, now)
		}
		return promoteKeys(ctx, x, &promote)
	})
	if err == nil {
		s.wakeAfter(tx, name) // keys a dead job held may have moved on
	}
	return err
}

// nullPositive is n for a limit that is set, NULL for 0 (no limit).
func nullPositive(n int) any {
	if n > 0 {
		return n
	}
	return nil
}
