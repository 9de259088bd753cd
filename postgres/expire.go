package postgres

import (
	"context"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Expiry: a job not started by its ExpiresAt dies with the reason
// "expired". The lease of a queue expires that queue's jobs first, so an
// expired job never starts. Leases that expire at once take the jobs in
// one order (expiry, then id), so they wait on each other, never in a
// cycle; a job another lease expired first is skipped (moveToDead moves
// nothing).
const sqlExpiredWaiting = `SELECT id, order_key, expires_at FROM spool.jobs
  WHERE queue = $1 AND expires_at <= $2 AND expires_at IS NOT NULL AND state IN ` + waitingSQL + `
  ORDER BY expires_at, id LIMIT 100`

// expireWaiting moves the expired jobs of a queue that have not started
// to spool.dead (dead.go), up to 100 per call, and lets their keys move
// on. Their keys are locked first (lockKeysInOrder), before any job moves.
func expireWaiting(ctx context.Context, x *xtx, queueName string, now time.Time) error {
	rows, err := x.query(ctx, sqlExpiredWaiting, queueName, x.f.us(now))
	if err != nil {
		return err
	}
	list, err := collect(rows, sqlstore.ScanExpiring)
	if err != nil {
		return err
	}
	keys := make([]queueKey, len(list))
	for i, e := range list {
		keys[i] = queueKey{queueName, e.OrderKey.String}
	}
	if err := lockKeysInOrder(ctx, x, keys); err != nil {
		return err
	}
	var promote sqlstore.KeyPromotions
	for _, e := range list {
		reason := queue.ExpiredReason(x.f.time(e.ExpiresAt))
		moved, err := moveToDead(ctx, x, sqlDeadMoveWaiting, e.ID, x.f.us(now), reason, nil)
		if err != nil {
			return err
		}
		if !moved {
			continue
		}
		if err := endParent(ctx, x, e.ID, sqlstore.DepDead, now); err != nil {
			return err
		}
		promote.Add(queueName, e.OrderKey.String, now)
	}
	return promoteKeys(ctx, x, &promote)
}
