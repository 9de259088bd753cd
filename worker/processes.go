package worker

import (
	"context"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/spooljobs/spool/queue"
)

// ProcessStaleHeartbeats is how many HeartbeatIntervals a pool's process
// row stays live without a heartbeat: a row's ExpiresAt is its LastSeen
// plus this many intervals. Readers (the admin pages, spool ps) then ignore
// it, and the maintenance leader's Prune deletes it. Three intervals let
// two heartbeats fail or run late before a live pool looks gone.
const ProcessStaleHeartbeats = 3

// modulePath is spool's module, whose version the process row carries.
const modulePath = "github.com/spooljobs/spool"

// version is spool's module version in this binary's build info: the main
// module's when it is spool, else the dependency's; "devel" when the build
// carries none (go run, tests, a replaced module).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	m := &bi.Main
	if m.Path != modulePath {
		i := slices.IndexFunc(bi.Deps, func(d *debug.Module) bool { return d.Path == modulePath })
		if i < 0 {
			return "devel"
		}
		m = bi.Deps[i]
		if m.Replace != nil {
			m = m.Replace
		}
	}
	if v := strings.TrimSpace(m.Version); v != "" && v != "(devel)" {
		return v
	}
	return "devel"
}

// processInfo is the pool's process row as of now: its queues with their
// concurrency and the jobs it runs of each.
func (p *Pool) processInfo(now time.Time) queue.ProcessInfo {
	running := map[string]int{}
	p.mu.Lock()
	for _, a := range p.active {
		if !a.released {
			running[a.job.Queue]++
		}
	}
	p.mu.Unlock()
	host, _ := os.Hostname()
	info := queue.ProcessInfo{
		ID: p.id, Name: p.opts.Name, Host: host, PID: os.Getpid(), Version: version(),
		StartedAt: p.startedAt, LastSeen: now,
		ExpiresAt: now.Add(ProcessStaleHeartbeats * p.opts.HeartbeatInterval),
	}
	for name, c := range p.opts.Queues {
		info.Queues = append(info.Queues, queue.ProcessQueue{Name: name, Concurrency: c.MaxWorkers, Running: running[name]})
	}
	queue.SortProcesses([]queue.ProcessInfo{info})
	return info
}

// recordProcess writes the pool's process row, on a store that implements
// queue.ProcessStore; it does nothing after Stop began removing it.
func (p *Pool) recordProcess(ctx context.Context) error {
	ps, ok := p.store.(queue.ProcessStore)
	if !ok || p.processGone.Load() {
		return nil
	}
	return ps.RecordProcess(ctx, p.processInfo(p.q.Now()))
}

// removeProcess deletes the pool's process row at Stop. ctx is Stop's: it
// may have ended, the removal is tried anyway for a few seconds; a row
// left behind turns stale and is pruned.
func (p *Pool) removeProcess(ctx context.Context) {
	ps, ok := p.store.(queue.ProcessStore)
	if !ok {
		return
	}
	p.processGone.Store(true)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := ps.RemoveProcess(ctx, p.id); err != nil {
		p.logger.Warn("spool: removing the pool's process row failed; it turns stale and is pruned",
			"err", err, "stale_after", ProcessStaleHeartbeats*p.opts.HeartbeatInterval)
	}
}
