package postgres

import (
	"context"

	"github.com/spooljobs/spool/internal/sqlstore"
)

// Settled attempts are counted per minute, queue and store slot in
// spool.metrics_slots (older builds: spool.metrics, summed with it), for
// the throughput chart (Stats), in this store's slot (metricSlot);
// sqlstore.Throughput gathers one Settle call's counts.

const sqlMetrics = `INSERT INTO spool.metrics_slots AS m (minute, queue, completed, failed, dead, slot) VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (minute, queue, slot) DO UPDATE SET completed = m.completed + excluded.completed,
  failed = m.failed + excluded.failed, dead = m.dead + excluded.dead`

// recordThroughput adds t's counts to spool.metrics, the rows in one order
// (Throughput.Keys) so that two settles that add to the same rows never
// wait on each other in a cycle. Their minutes are stored in the
// database's frame, shifted by whole minutes (frame.minuteShift).
func recordThroughput(ctx context.Context, x *xtx, t sqlstore.Throughput) error {
	for _, k := range t.Keys() {
		c := t[k]
		if _, err := x.exec(ctx, sqlMetrics, k.Minute+x.f.minuteShift(), k.Queue, c.Completed, c.Failed, c.Dead, x.s.metricSlot); err != nil {
			return err
		}
	}
	return nil
}
