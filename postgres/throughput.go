package postgres

import (
	"context"
	"sort"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Settled attempts are counted per minute and queue in spool.metrics, for
// the throughput chart (Stats).

const sqlMetrics = `INSERT INTO spool.metrics AS m (minute, queue, completed, failed, dead, slot) VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (minute, queue, slot) DO UPDATE SET completed = m.completed + excluded.completed,
  failed = m.failed + excluded.failed, dead = m.dead + excluded.dead`

// metricKey names a row of spool.metrics: a minute (Unix seconds) and a
// queue.
type metricKey struct {
	minute int64
	queue  string
}

// metricCounts are the attempts one Settle call adds to a row.
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

// record adds the counts to spool.metrics, the rows in one order so that
// two settles that add to the same rows never wait on each other in a
// cycle. Their minutes are stored in the database's frame, shifted by
// whole minutes (frame.minuteShift).
func (t throughput) record(ctx context.Context, x *xtx) error {
	keys := make([]metricKey, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].minute != keys[j].minute {
			return keys[i].minute < keys[j].minute
		}
		return keys[i].queue < keys[j].queue
	})
	for _, k := range keys {
		c := t[k]
		if _, err := x.exec(ctx, sqlMetrics, k.minute+x.f.minuteShift(), k.queue, c.completed, c.failed, c.dead, x.s.metricSlot); err != nil {
			return err
		}
	}
	return nil
}
