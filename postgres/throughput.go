package postgres

import (
	"context"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Settled attempts are counted per minute, queue, kind and store slot in
// spool.metrics_kinds, with a histogram of their waits (w0 … w15, the
// buckets of queue.WaitHistogram), in this store's slot (metricSlot), for
// the throughput chart (Stats) and the charts per queue and kind
// (Metrics); sqlstore.Throughput gathers one Settle call's counts,
// written with one upsert per row. Readers also sum the tables of older
// builds (spool.metrics_slots, spool.metrics: hosts not yet upgraded may
// still count into them) as kind '' without waits.

const sqlMetrics = `INSERT INTO spool.metrics_kinds AS m (minute, queue, kind, slot, completed, failed, dead,
  w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)
  ON CONFLICT (minute, queue, kind, slot) DO UPDATE SET completed = m.completed + excluded.completed,
  failed = m.failed + excluded.failed, dead = m.dead + excluded.dead,
  w0 = m.w0 + excluded.w0, w1 = m.w1 + excluded.w1, w2 = m.w2 + excluded.w2, w3 = m.w3 + excluded.w3,
  w4 = m.w4 + excluded.w4, w5 = m.w5 + excluded.w5, w6 = m.w6 + excluded.w6, w7 = m.w7 + excluded.w7,
  w8 = m.w8 + excluded.w8, w9 = m.w9 + excluded.w9, w10 = m.w10 + excluded.w10, w11 = m.w11 + excluded.w11,
  w12 = m.w12 + excluded.w12, w13 = m.w13 + excluded.w13, w14 = m.w14 + excluded.w14, w15 = m.w15 + excluded.w15`

// recordThroughput adds t's counts to spool.metrics_kinds, the rows in one
// order (Throughput.Keys) so that two settles that add to the same rows
// never wait on each other in a cycle. Their minutes are stored in the
// database's frame, shifted by whole minutes (frame.minuteShift).
func recordThroughput(ctx context.Context, x *xtx, t sqlstore.Throughput) error {
	for _, k := range t.Keys() {
		args := append([]any{k.Minute + x.f.minuteShift(), k.Queue, k.Kind, x.s.metricSlot}, t[k].Args()...)
		if _, err := x.exec(ctx, sqlMetrics, args...); err != nil {
			return err
		}
	}
	return nil
}

// sqlReadMetrics reads the rows of minutes $1 and later, summed over
// slots, with the older builds' tables as the empty kind.
const sqlReadMetrics = `SELECT minute, queue, kind, sum(completed), sum(failed), sum(dead),
  sum(w0), sum(w1), sum(w2), sum(w3), sum(w4), sum(w5), sum(w6), sum(w7), sum(w8), sum(w9), sum(w10), sum(w11), sum(w12), sum(w13), sum(w14), sum(w15)
  FROM (
    SELECT minute, queue, kind, completed, failed, dead, w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15
      FROM spool.metrics_kinds WHERE minute >= $1
    UNION ALL
    SELECT minute, queue, '', completed, failed, dead, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
      FROM spool.metrics_slots WHERE minute >= $1
    UNION ALL
    SELECT minute, queue, '', completed, failed, dead, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
      FROM spool.metrics WHERE minute >= $1) m
  GROUP BY minute, queue, kind ORDER BY minute, queue, kind`

// Metrics implements queue.MetricsStore.
func (s *Store) Metrics(ctx context.Context, since time.Time) ([]queue.MinuteMetrics, error) {
	shift := s.clock.frame().minuteShift() // stored minutes are in the database's frame
	rows, err := s.db.QueryContext(ctx, s.sql(sqlReadMetrics), since.Unix()+shift)
	if err != nil {
		return nil, ctxErr(ctx, mapErr(err))
	}
	out, err := collect(rows, func(r scanner) (queue.MinuteMetrics, error) { return sqlstore.ScanMetric(r, shift) })
	if err != nil {
		return nil, ctxErr(ctx, mapErr(err))
	}
	return out, nil
}
