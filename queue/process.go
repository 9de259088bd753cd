package queue

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ProcessStore is implemented by stores that keep a heartbeat row per
// worker pool (a process, in the words of Sidekiq's and Oban's web pages),
// so that operators see who is working which queues, and a queue with
// pending jobs that no live pool serves can be flagged. Worker pools record
// their row at Start and at every heartbeat, and remove it at Stop; a pool
// that died without stopping leaves a row that turns stale at its
// ExpiresAt, is ignored by Processes from then on, and is deleted by the
// maintenance leader's PruneProcesses.
//
// Times come from the caller, as for Store, so tests drive them.
type ProcessStore interface {
	// RecordProcess inserts p, or replaces the row of the same ID.
	RecordProcess(ctx context.Context, p ProcessInfo) error
	// RemoveProcess deletes the row of id; no row is no error.
	RemoveProcess(ctx context.Context, id string) error
	// Processes returns the live rows (ExpiresAt not before now), ordered
	// by Name, then ID.
	Processes(ctx context.Context, now time.Time) ([]ProcessInfo, error)
	// PruneProcesses deletes the rows that turned stale before before
	// (ExpiresAt before it) and returns how many it deleted.
	PruneProcesses(ctx context.Context, before time.Time) (int, error)
}

// ProcessInfo is one worker pool's heartbeat row.
type ProcessInfo struct {
	// ID identifies the pool for its life (a UUID).
	ID string
	// Name is the pool's name (worker.Options.Name), Host its host name and
	// PID its process id.
	Name string
	Host string
	PID  int
	// Version is the module version of the binary (runtime/debug build
	// info), or "devel".
	Version string
	// StartedAt is when the pool started, LastSeen its latest heartbeat,
	// and ExpiresAt when its row turns stale without another one.
	StartedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
	// Queues are the queues the pool works, by name.
	Queues []ProcessQueue
}

// ProcessQueue is one queue a pool works.
type ProcessQueue struct {
	// Name is the queue's name.
	Name string
	// Concurrency is how many of its jobs the pool runs at once
	// (worker.QueueConfig.MaxWorkers), and Running how many it ran at the
	// heartbeat.
	Concurrency int
	Running     int
}

// Serves reports whether p works the queue name.
func (p ProcessInfo) Serves(name string) bool {
	return slices.ContainsFunc(p.Queues, func(q ProcessQueue) bool { return q.Name == name })
}

// ValidateProcess is the one check of RecordProcess's argument that every
// backend makes first: an ID, a name and an ExpiresAt not before LastSeen
// are required, and the queue names must be valid. Its error wraps
// ErrInvalidArgument.
func ValidateProcess(p ProcessInfo) error {
	switch {
	case p.ID == "":
		return fmt.Errorf("%w: RecordProcess: ID is empty", ErrInvalidArgument)
	case p.Name == "":
		return fmt.Errorf("%w: RecordProcess: Name is empty", ErrInvalidArgument)
	case p.LastSeen.IsZero() || p.ExpiresAt.Before(p.LastSeen):
		return fmt.Errorf("%w: RecordProcess: ExpiresAt %s is before LastSeen %s", ErrInvalidArgument, p.ExpiresAt, p.LastSeen)
	}
	for _, q := range p.Queues {
		if err := ValidName(q.Name); err != nil {
			return fmt.Errorf("%w: RecordProcess: %w", ErrInvalidArgument, err)
		}
	}
	return nil
}

// SortProcesses orders ps by Name, then ID, and each one's queues by name:
// the order Processes returns.
func SortProcesses(ps []ProcessInfo) {
	for _, p := range ps {
		slices.SortFunc(p.Queues, func(a, b ProcessQueue) int { return strings.Compare(a.Name, b.Name) })
	}
	slices.SortFunc(ps, func(a, b ProcessInfo) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// Processes returns the live worker pools of the store, by name; nil and
// no error on a store that does not implement ProcessStore (see
// TracksProcesses).
func (in *Inspector) Processes(ctx context.Context) ([]ProcessInfo, error) {
	ps, ok := in.q.store.(ProcessStore)
	if !ok {
		return nil, nil
	}
	return ps.Processes(ctx, in.q.opts.Now())
}

// TracksProcesses reports whether the store keeps worker pools' heartbeat
// rows (implements ProcessStore): only then do Processes and the
// Served/Unserved fields of Stats mean anything.
func (in *Inspector) TracksProcesses() bool {
	_, ok := in.q.store.(ProcessStore)
	return ok
}

// addProcesses adds to st what the live pools ps tell: every queue one of
// them works shows (idle ones too), with the summed concurrency, running
// count and number of pools working it, and a queue with pending jobs that
// none works is flagged Unserved.
func addProcesses(st *Stats, ps []ProcessInfo) {
	st.ProcessesTracked = true
	st.Processes = len(ps)
	byName := make(map[string]int, len(st.Queues))
	for i, q := range st.Queues {
		byName[q.Name] = i
	}
	for _, p := range ps {
		for _, pq := range p.Queues {
			i, ok := byName[pq.Name]
			if !ok {
				i = len(st.Queues)
				byName[pq.Name] = i
				st.Queues = append(st.Queues, QueueStats{Name: pq.Name})
			}
			q := &st.Queues[i]
			q.Workers++
			q.Concurrency += pq.Concurrency
		}
	}
	for i := range st.Queues {
		q := &st.Queues[i]
		q.Unserved = q.Pending > 0 && q.Workers == 0
	}
	slices.SortFunc(st.Queues, func(a, b QueueStats) int { return strings.Compare(a.Name, b.Name) })
}

// NoLivePool reports whether the store keeps worker pools' process rows
// and none is live: no pool has reported to this database, or every one
// stopped or died. Every queue with pending jobs is then Unserved, for
// one reason that is not the queue's: the admin and the spool command say
// NoLivePoolNote once instead of flagging each queue, while the JSON keeps
// each queue's unserved flag (the same queues) and adds no_live_pool.
func (st *Stats) NoLivePool() bool { return st.ProcessesTracked && st.Processes == 0 }

// NoLivePoolNote is what the admin and the spool command say once, in
// place of the per-queue flag, when pending jobs wait and no worker pool
// is live ([Stats.NoLivePool]).
const NoLivePoolNote = "no worker pool is live: none has reported to this database, or every one stopped or died; pending jobs wait until a pool starts (worker.New, then Start)"

// UnservedNote is the explanation shown beside a queue flagged
// [QueueStats].Unserved.
const UnservedNote = "no live worker serves this queue: its pending jobs wait until a worker pool lists it (check the queue name in the producer and the pool's Options.Queues)"
