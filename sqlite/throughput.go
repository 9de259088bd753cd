package sqlite

import (
	"context"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Settled attempts are counted per minute and queue in spool_metrics, for
// the throughput chart (Stats).

const sqlMetrics = `INSERT INTO spool_metrics (minute, queue, completed, failed, dead) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (minute, queue) DO UPDATE SET completed = completed + excluded.completed,
  failed = failed + excluded.failed, dead = dead + excluded.dead`

type metricKey struct {
	minute int64
	queue  string
}

type metricCounts struct{ completed, failed, dead int }

// throughput gathers the counts of one Settle call, written at its end.
type throughput map[metricKey]*metricCounts

// count counts the settled attempt st: a completion, a failure that will
// be retried, or a death (a failure too when it has an error). Snoozes,
// releases and cancellations are not counted.
func (t throughput) count(st queue.Settlement) {
	switch st.Outcome {
	case queue.OutcomeComplete:
		t.at(st).completed++
	case queue.OutcomeRetry:
		t.at(st).failed++
	case queue.OutcomeDead:
		c := t.at(st)
		c.dead++
		if st.Error != nil {
			c.failed++
		}
	}
}

// at returns the counts of st's minute and queue.
func (t throughput) at(st queue.Settlement) *metricCounts {
	k := metricKey{st.Now.Truncate(time.Minute).Unix(), st.Queue}
	c := t[k]
	if c == nil {
		c = &metricCounts{}
		t[k] = c
	}
	return c
}

// record adds the counts to spool_metrics.
func (t throughput) record(ctx context.Context, x *xtx) error {
	for k, c := range t {
		if _, err := x.exec(ctx, sqlMetrics, k.minute, k.queue, c.completed, c.failed, c.dead); err != nil {
			return err
		}
	}
	return nil
}
