package sqlstore

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Throughput gathers the counts one Settle call adds to the throughput
// table (a row per minute and queue), written at the call's end.
type Throughput map[MetricKey]*MetricCounts

// MetricKey names a row of the throughput table: a minute (Unix seconds,
// in the caller's clock) and a queue.
type MetricKey struct {
	Minute int64
	Queue  string
}

// MetricCounts are the attempts a Settle call adds to a row.
type MetricCounts struct{ Completed, Failed, Dead int }

// Count adds the settled attempt st, as queue.Settlement.Counts says, to
// the row of st's minute and queue. Settlements that count nothing add no
// row.
func (t Throughput) Count(st queue.Settlement) {
	completed, failed, dead := st.Counts()
	if completed+failed+dead == 0 {
		return
	}
	k := MetricKey{st.Now.Truncate(time.Minute).Unix(), st.Queue}
	c := t[k]
	if c == nil {
		c = &MetricCounts{}
		t[k] = c
	}
	c.Completed += completed
	c.Failed += failed
	c.Dead += dead
}

// Keys returns the rows' keys by minute, then queue: writers that add to
// the same rows in this one order never wait on each other in a cycle.
func (t Throughput) Keys() []MetricKey {
	keys := make([]MetricKey, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b MetricKey) int {
		if c := cmp.Compare(a.Minute, b.Minute); c != 0 {
			return c
		}
		return strings.Compare(a.Queue, b.Queue)
	})
	return keys
}
