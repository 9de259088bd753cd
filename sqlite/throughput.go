package sqlite

import (
	"context"

	"github.com/spooljobs/spool/internal/sqlstore"
)

// Settled attempts are counted per minute and queue in spool_metrics, for
// the throughput chart (Stats); sqlstore.Throughput gathers one Settle
// call's counts.

const sqlMetrics = `INSERT INTO spool_metrics (minute, queue, completed, failed, dead) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (minute, queue) DO UPDATE SET completed = completed + excluded.completed,
  failed = failed + excluded.failed, dead = dead + excluded.dead`

// recordThroughput adds t's counts to spool_metrics.
func recordThroughput(ctx context.Context, x *xtx, t sqlstore.Throughput) error {
	for _, k := range t.Keys() {
		c := t[k]
		if _, err := x.exec(ctx, sqlMetrics, k.Minute, k.Queue, c.Completed, c.Failed, c.Dead); err != nil {
			return err
		}
	}
	return nil
}
