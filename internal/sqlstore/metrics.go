package sqlstore

import (
	"time"

	"github.com/spooljobs/spool/queue"
)

// ScanMetric scans a row of the metrics read (queue.MetricsStore): minute
// (Unix seconds), queue, kind, completed, failed, dead and the wait
// buckets w0 … w15, in this order. shift is subtracted from the stored
// minute (PostgreSQL stores minutes in the database's frame).
func ScanMetric(r Scanner, shift int64) (queue.MinuteMetrics, error) {
	var m queue.MinuteMetrics
	var minute int64
	dest := make([]any, 0, 6+queue.WaitBuckets)
	dest = append(dest, &minute, &m.Queue, &m.Kind, &m.Completed, &m.Failed, &m.Dead)
	for i := range m.Wait {
		dest = append(dest, &m.Wait[i])
	}
	if err := r.Scan(dest...); err != nil {
		return m, err
	}
	m.Minute = time.Unix(minute-shift, 0).UTC()
	return m, nil
}
