package sqlite

import (
	"context"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Expiry: a job not started by its ExpiresAt dies with the reason
// "expired". The lease of a queue expires that queue's jobs first, so an
// expired job never starts.
const sqlExpiredWaiting = `SELECT id, order_key, expires_at FROM spool_jobs
  WHERE queue = ? AND expires_at <= ? AND expires_at IS NOT NULL AND state IN ` + waitingSQL + ` LIMIT 100`

// expireWaiting moves the expired jobs of a queue that have not started
// to the dead table (dead.go), up to 100 per call.
func expireWaiting(ctx context.Context, x *xtx, queueName string, now time.Time) error {
	rows, err := x.query(ctx, sqlExpiredWaiting, queueName, micros(now))
	if err != nil {
		return err
	}
	list, err := collect(rows, sqlstore.ScanExpiring)
	if err != nil {
		return err
	}
	var promote sqlstore.KeyPromotions
	for _, e := range list {
		reason := queue.ExpiredReason(time.UnixMicro(e.ExpiresAt))
		moved, err := moveToDead(ctx, x, sqlDeadInsertWaiting, e.ID, micros(now), reason, nil)
		if err != nil {
			return err
		}
		if !moved {
			continue
		}
		if _, err := endParent(ctx, x, e.ID, sqlstore.DepDead, now); err != nil {
			return err
		}
		promote.Add(queueName, e.OrderKey.String, now)
	}
	return promoteKeys(ctx, x, &promote)
}
