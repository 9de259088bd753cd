package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Settled attempts are counted per minute, queue and kind in
// spool_metrics_kinds, with a histogram of their waits (w0 … w15, the
// buckets of queue.WaitHistogram), for the throughput chart (Stats) and
// the charts per queue and kind (Metrics); sqlstore.Throughput gathers
// one Settle call's counts, written with one upsert per row.

const sqlMetrics = `INSERT INTO spool_metrics_kinds (minute, queue, kind, completed, failed, dead,
  w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (minute, queue, kind) DO UPDATE SET completed = completed + excluded.completed,
  failed = failed + excluded.failed, dead = dead + excluded.dead,
  w0 = w0 + excluded.w0, w1 = w1 + excluded.w1, w2 = w2 + excluded.w2, w3 = w3 + excluded.w3,
  w4 = w4 + excluded.w4, w5 = w5 + excluded.w5, w6 = w6 + excluded.w6, w7 = w7 + excluded.w7,
  w8 = w8 + excluded.w8, w9 = w9 + excluded.w9, w10 = w10 + excluded.w10, w11 = w11 + excluded.w11,
  w12 = w12 + excluded.w12, w13 = w13 + excluded.w13, w14 = w14 + excluded.w14, w15 = w15 + excluded.w15`

// recordThroughput adds t's counts to spool_metrics_kinds.
func recordThroughput(ctx context.Context, x *xtx, t sqlstore.Throughput) error {
	for _, k := range t.Keys() {
		args := append([]any{k.Minute, k.Queue, k.Kind}, t[k].Args()...)
		if _, err := x.exec(ctx, sqlMetrics, args...); err != nil {
			return err
		}
	}
	return nil
}

const sqlReadMetrics = `SELECT minute, queue, kind, completed, failed, dead,
  w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15
  FROM spool_metrics_kinds WHERE minute >= ? ORDER BY minute, queue, kind`

// Metrics implements queue.MetricsStore.
func (s *Store) Metrics(ctx context.Context, since time.Time) ([]queue.MinuteMetrics, error) {
	rows, err := s.readDB.QueryContext(ctx, sqlReadMetrics, since.Unix())
	if err != nil {
		return nil, mapErr(err)
	}
	var out []queue.MinuteMetrics
	err = eachRow(rows, func(r *sql.Rows) error {
		m, err := sqlstore.ScanMetric(r, 0)
		out = append(out, m)
		return err
	})
	return out, err
}
