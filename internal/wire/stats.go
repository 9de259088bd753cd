package wire

import (
	"time"

	"github.com/spooljobs/spool/queue"
)

// Queue is one queue's counts and settings.
type Queue struct {
	Name                 string  `json:"name"`
	Pending              int     `json:"pending"`
	Scheduled            int     `json:"scheduled"`
	Blocked              int     `json:"blocked"`
	BlockedKeys          int     `json:"blocked_keys"`
	StuckKeys            int     `json:"stuck_keys"`
	AwaitingParents      int     `json:"awaiting_parents"`
	Running              int     `json:"running"`
	Completed            int     `json:"completed"`
	Cancelled            int     `json:"cancelled"`
	Dead                 int     `json:"dead"`
	OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
	Paused               bool    `json:"paused"`
	MaxPending           int     `json:"max_pending"`
	// MaxRunning is the limit on running jobs across every process (0:
	// none).
	MaxRunning int `json:"max_running"`
	// RateLimit jobs start per RatePeriodSeconds across every process (0:
	// none).
	RateLimit         int     `json:"rate_limit"`
	RatePeriodSeconds float64 `json:"rate_period_seconds"`
	// MaxRunningPerKey, RateLimitPerKey and RatePeriodPerKeySeconds are
	// the same limits per partition key (0: none).
	MaxRunningPerKey        int     `json:"max_running_per_key"`
	RateLimitPerKey         int     `json:"rate_limit_per_key"`
	RatePeriodPerKeySeconds float64 `json:"rate_period_per_key_seconds"`
	// Workers counts the live worker pools that work the queue and
	// Concurrency sums their workers for it; Unserved flags pending jobs
	// that no live pool works. All three are zero on a store that keeps no
	// process rows (Stats.ProcessesTracked false).
	Workers     int  `json:"workers"`
	Concurrency int  `json:"concurrency"`
	Unserved    bool `json:"unserved"`
}

// NewQueue returns q's JSON form.
func NewQueue(q queue.QueueStats) Queue {
	return Queue{Name: q.Name, Pending: q.Pending, Scheduled: q.Scheduled,
		Blocked: q.Blocked, BlockedKeys: q.BlockedKeys, StuckKeys: q.StuckKeys, AwaitingParents: q.AwaitingParents, Running: q.Running,
		Completed: q.Completed, Cancelled: q.Cancelled, Dead: q.Dead,
		OldestPendingSeconds: q.OldestPending.Seconds(), Paused: q.Paused, MaxPending: q.MaxPending, MaxRunning: q.MaxRunning,
		RateLimit: q.RateLimit, RatePeriodSeconds: q.RatePeriod.Seconds(),
		MaxRunningPerKey: q.MaxRunningPerKey, RateLimitPerKey: q.RateLimitPerKey, RatePeriodPerKeySeconds: q.RatePeriodPerKey.Seconds(),
		Workers: q.Workers, Concurrency: q.Concurrency, Unserved: q.Unserved}
}

// Queues is the list of queues.
type Queues struct {
	Queues []Queue `json:"queues"`
	// NextAfter, when set, is the name to pass as "after" for the next
	// page.
	NextAfter string `json:"next_after,omitempty"`
}

// NewQueues returns the queues of st.
func NewQueues(st *queue.Stats) Queues {
	out := Queues{Queues: make([]Queue, len(st.Queues))}
	for i, q := range st.Queues {
		out.Queues[i] = NewQueue(q)
	}
	return out
}

// Minute is the attempts settled in one minute.
type Minute struct {
	Minute    time.Time `json:"minute"`
	Completed int       `json:"completed"`
	Failed    int       `json:"failed"`
	Dead      int       `json:"dead"`
}

// Stats is the queues' counts with the throughput of the last minutes,
// oldest first, at Now (the queue's clock).
type Stats struct {
	Now        time.Time `json:"now"`
	Queues     []Queue   `json:"queues"`
	Throughput []Minute  `json:"throughput"`
	// ProcessesTracked says whether the store keeps worker pools' process
	// rows; Processes then counts the live ones. NoLivePool is set when it
	// keeps them and none is live (queue.Stats.NoLivePool): every queue
	// with pending jobs is unserved then, for want of any pool.
	ProcessesTracked bool `json:"processes_tracked"`
	Processes        int  `json:"processes"`
	NoLivePool       bool `json:"no_live_pool"`
}

// NewStats returns st's queues at now with the minutes of throughput given
// (all of st.Throughput, or the last few).
func NewStats(now time.Time, st *queue.Stats, minutes []queue.MinuteStats) Stats {
	out := Stats{Now: now.UTC(), Queues: NewQueues(st).Queues, Throughput: make([]Minute, len(minutes)),
		ProcessesTracked: st.ProcessesTracked, Processes: st.Processes, NoLivePool: st.NoLivePool()}
	for i, m := range minutes {
		out.Throughput[i] = Minute{Minute: m.Minute.UTC(), Completed: m.Completed, Failed: m.Failed, Dead: m.Dead}
	}
	return out
}
