package wire

import (
	"time"

	"github.com/spooljobs/spool/queue"
)

// Process is one live worker pool's heartbeat row.
type Process struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Host      string         `json:"host"`
	PID       int            `json:"pid"`
	Version   string         `json:"version"`
	StartedAt time.Time      `json:"started_at"`
	LastSeen  time.Time      `json:"last_seen"`
	ExpiresAt time.Time      `json:"expires_at"`
	Queues    []ProcessQueue `json:"queues"`
}

// ProcessQueue is one queue a pool works.
type ProcessQueue struct {
	Name        string `json:"name"`
	Concurrency int    `json:"concurrency"`
	Running     int    `json:"running"`
}

// NewProcess returns p's JSON form, its times in UTC.
func NewProcess(p queue.ProcessInfo) Process {
	out := Process{ID: p.ID, Name: p.Name, Host: p.Host, PID: p.PID, Version: p.Version,
		StartedAt: p.StartedAt.UTC(), LastSeen: p.LastSeen.UTC(), ExpiresAt: p.ExpiresAt.UTC(),
		Queues: make([]ProcessQueue, len(p.Queues))}
	for i, q := range p.Queues {
		out.Queues[i] = ProcessQueue(q)
	}
	return out
}

// Processes is the list of live worker pools at Now. Tracked is false for
// a store that keeps no process rows (it does not implement
// queue.ProcessStore): the list is then empty for want of data, not of
// workers.
//
// It may be one page of the list: NextAfter and NextAfterID, when set,
// are the name and the ID of the last pool shown, to pass as "after" and
// "after_id" for the next page (the list is ordered by name, then ID).
type Processes struct {
	Now         time.Time `json:"now"`
	Tracked     bool      `json:"tracked"`
	Processes   []Process `json:"processes"`
	NextAfter   string    `json:"next_after,omitempty"`
	NextAfterID string    `json:"next_after_id,omitempty"`
}

// NewProcesses returns ps at now; tracked says whether the store keeps
// process rows.
func NewProcesses(now time.Time, tracked bool, ps []queue.ProcessInfo) Processes {
	out := Processes{Now: now.UTC(), Tracked: tracked, Processes: make([]Process, len(ps))}
	for i, p := range ps {
		out.Processes[i] = NewProcess(p)
	}
	return out
}
