package sqlstore

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Throughput gathers the counts one Settle call adds to the metrics table
// (a row per minute, queue and kind: completed, failed and dead attempts
// and a wait histogram), written at the call's end with one upsert per
// row.
type Throughput map[MetricKey]*MetricCounts

// MetricKey names a row of the metrics table: a minute (Unix seconds, in
// the caller's clock), a queue and a kind.
type MetricKey struct {
	Minute int64
	Queue  string
	Kind   string
}

// MetricCounts are the attempts a Settle call adds to a row: the counts of
// queue.Settlement.Counts and the attempts' waits.
type MetricCounts struct {
	Completed, Failed, Dead int
	Wait                    queue.WaitHistogram
}

// Count adds the settled attempt st to the row of st's minute, queue and
// kind: its counts as queue.Settlement.Counts says, and its Wait in the
// wait histogram. Every settlement that took effect adds to a row, those
// that count nothing in throughput (snoozes, releases, cancellations)
// too, for their wait.
func (t Throughput) Count(st queue.Settlement) {
	completed, failed, dead := st.Counts()
	k := MetricKey{st.Now.Truncate(time.Minute).Unix(), st.Queue, st.Kind}
	c := t[k]
	if c == nil {
		c = &MetricCounts{}
		t[k] = c
	}
	c.Completed += completed
	c.Failed += failed
	c.Dead += dead
	c.Wait.Add(st.Wait)
}

// Keys returns the rows' keys by minute, queue, then kind: writers that
// add to the same rows in this one order never wait on each other in a
// cycle.
func (t Throughput) Keys() []MetricKey {
	keys := make([]MetricKey, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b MetricKey) int {
		if c := cmp.Compare(a.Minute, b.Minute); c != 0 {
			return c
		}
		if c := strings.Compare(a.Queue, b.Queue); c != 0 {
			return c
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	return keys
}

// Args returns the values of a row's upsert after its key: completed,
// failed, dead, then the wait buckets w0 … w15.
func (c *MetricCounts) Args() []any {
	args := make([]any, 0, 3+queue.WaitBuckets)
	args = append(args, c.Completed, c.Failed, c.Dead)
	for _, n := range c.Wait {
		args = append(args, n)
	}
	return args
}
