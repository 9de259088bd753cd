package sqlstore

import (
	"slices"
	"strings"
	"time"

	"github.com/spooljobs/spool/queue"
)

// QueueStats gathers the per-queue counts of a Stats snapshot by queue
// name.
type QueueStats map[string]*queue.QueueStats

// Get returns the counts of the queue name, adding it.
func (qs QueueStats) Get(name string) *queue.QueueStats {
	q := qs[name]
	if q == nil {
		q = &queue.QueueStats{Name: name}
		qs[name] = q
	}
	return q
}

// Sorted returns the queues by name.
func (qs QueueStats) Sorted() []queue.QueueStats {
	var out []queue.QueueStats
	for _, q := range qs {
		out = append(out, *q)
	}
	slices.SortFunc(out, func(a, b queue.QueueStats) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// RaiseOldest raises q's OldestPending to the age at now of a job that was
// due at runAt.
func RaiseOldest(q *queue.QueueStats, now, runAt time.Time) {
	if age := now.Sub(runAt); age > q.OldestPending {
		q.OldestPending = age
	}
}

// Minutes is the throughput of a Stats snapshot: one entry per minute of
// the hour before now, oldest first, zero-filled, filled from the rows
// Settle records (Throughput).
type Minutes struct {
	start time.Time
	stats []queue.MinuteStats
}

// NewMinutes returns the zero-filled hour before now.
func NewMinutes(now time.Time) *Minutes {
	m := &Minutes{start: now.Truncate(time.Minute).Add(-59 * time.Minute), stats: make([]queue.MinuteStats, 60)}
	for i := range m.stats {
		m.stats[i].Minute = m.start.Add(time.Duration(i) * time.Minute)
	}
	return m
}

// Since is the first minute of the hour, in Unix seconds: the rows to read
// are those of it and later.
func (m *Minutes) Since() int64 { return m.start.Unix() }

// Set sets the counts of the minute (Unix seconds) a row records; a
// minute outside the hour is left out.
func (m *Minutes) Set(minute int64, completed, failed, dead int) {
	if i := int((minute - m.start.Unix()) / 60); i >= 0 && i < len(m.stats) {
		m.stats[i].Completed, m.stats[i].Failed, m.stats[i].Dead = completed, failed, dead
	}
}

// Stats returns the hour's entries, oldest first.
func (m *Minutes) Stats() []queue.MinuteStats { return m.stats }
