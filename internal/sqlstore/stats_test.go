package sqlstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// Queues gather by name and come out sorted; the oldest pending age only
// rises.
func TestQueueStats(t *testing.T) {
	t.Parallel()
	qs := sqlstore.QueueStats{}
	qs.Get("b").Pending = 2
	qs.Get("a").Dead = 1
	qs.Get("b").Running = 3
	require.Equal(t, []queue.QueueStats{{Name: "a", Dead: 1}, {Name: "b", Pending: 2, Running: 3}}, qs.Sorted())
	require.Empty(t, sqlstore.QueueStats{}.Sorted())

	now := time.Unix(1_700_000_000, 0)
	q := qs.Get("a")
	sqlstore.RaiseOldest(q, now, now.Add(-time.Minute))
	sqlstore.RaiseOldest(q, now, now.Add(-time.Second))
	require.Equal(t, time.Minute, q.OldestPending)
}

// The hour before now has 60 minutes, the last one now's; rows outside it
// are left out.
func TestMinutes(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0) // 13:20 past a whole minute
	m := sqlstore.NewMinutes(now)
	first := now.Truncate(time.Minute).Add(-59 * time.Minute)
	require.Equal(t, first.Unix(), m.Since())
	m.Set(first.Unix(), 1, 2, 3)
	m.Set(now.Truncate(time.Minute).Unix(), 4, 5, 6)
	m.Set(first.Unix()-60, 9, 9, 9)
	m.Set(now.Truncate(time.Minute).Unix()+60, 9, 9, 9)
	stats := m.Stats()
	require.Len(t, stats, 60)
	require.Equal(t, queue.MinuteStats{Minute: first, Completed: 1, Failed: 2, Dead: 3}, stats[0])
	require.Equal(t, queue.MinuteStats{Minute: now.Truncate(time.Minute), Completed: 4, Failed: 5, Dead: 6}, stats[59])
	for _, s := range stats[1:59] {
		require.Zero(t, s.Completed+s.Failed+s.Dead)
	}
}
