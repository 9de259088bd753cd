package spooltest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
)

// DrainOptions configure DrainWith. The zero value drains the pool's
// queues of what is due now, up to 1000 jobs.
type DrainOptions struct {
	// Queues are the queues to drain. Defaults to the pool's
	// (worker.Pool.Queues).
	Queues []string
	// MaxJobs bounds the jobs one Drain runs: when it has run MaxJobs and
	// a job is still ready, it fails the test, naming the kinds it ran (a
	// job that enqueues itself forever, a retry loop). Defaults to 1000.
	MaxJobs int
	// Advance is how far, in total, Drain may move the kit's clock to reach
	// jobs that wait for a time: retries after their backoff, snoozes,
	// delayed jobs. When no job of the drained queues is ready, Drain moves
	// the clock to the earliest run time among them, if that lies within
	// what is left of Advance, and goes on; it never sleeps. Defaults to
	// 0: Drain runs only what is due, and DrainReport.Scheduled counts the
	// jobs left waiting.
	Advance time.Duration
}

// DrainReport is what a Drain ran.
type DrainReport struct {
	// Runs holds every attempt Drain ran, in order.
	Runs []*Result
	// Advanced is how far Drain moved the kit's clock.
	Advanced time.Duration
	// Scheduled counts the jobs of the drained queues left waiting for a
	// time beyond what Advance allowed, and NextRunAt is the earliest of
	// their run times (zero when none is left).
	Scheduled int
	NextRunAt time.Time
	// Blocked counts the jobs of the drained queues left waiting behind a
	// job of their ordering key that did not end (a dead job holds its key
	// by default), and Paused the jobs left in paused queues (counted there
	// only, not as scheduled or blocked too).
	Blocked int
	Paused  int
}

// Kinds counts the attempts run per kind.
func (r *DrainReport) Kinds() map[string]int {
	m := map[string]int{}
	for _, run := range r.Runs {
		m[run.Job.Kind]++
	}
	return m
}

// Outcomes counts the attempts run per outcome ("complete", "retry",
// "snooze", "dead", "cancel").
func (r *DrainReport) Outcomes() map[string]int {
	m := map[string]int{}
	for _, run := range r.Runs {
		m[run.Outcome.String()]++
	}
	return m
}

// Count counts the attempts of kind that ended with outcome.
func (r *DrainReport) Count(kind string, outcome queue.Outcome) int {
	n := 0
	for _, run := range r.Runs {
		if run.Job.Kind == kind && run.Outcome == outcome {
			n++
		}
	}
	return n
}

// String summarises r: the attempts per kind and outcome.
func (r *DrainReport) String() string {
	per := map[string]map[string]int{}
	for _, run := range r.Runs {
		if per[run.Job.Kind] == nil {
			per[run.Job.Kind] = map[string]int{}
		}
		per[run.Job.Kind][run.Outcome.String()]++
	}
	var parts []string
	for _, kind := range slices.Sorted(maps.Keys(per)) {
		var os []string
		for _, o := range slices.Sorted(maps.Keys(per[kind])) {
			os = append(os, fmt.Sprintf("%s %d", o, per[kind][o]))
		}
		parts = append(parts, kind+": "+strings.Join(os, ", "))
	}
	s := fmt.Sprintf("%d attempts", len(r.Runs))
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, "; ") + ")"
	}
	if r.Advanced > 0 {
		s += fmt.Sprintf("; clock advanced %s", r.Advanced)
	}
	if r.Scheduled > 0 {
		s += fmt.Sprintf("; %d left scheduled, next at %s", r.Scheduled, fmtTime(r.NextRunAt))
	}
	if r.Blocked > 0 {
		s += fmt.Sprintf("; %d left blocked behind their ordering key", r.Blocked)
	}
	if r.Paused > 0 {
		s += fmt.Sprintf("; %d left in paused queues", r.Paused)
	}
	return s
}

// Drain runs the ready jobs of the pool's queues (or of queues, when
// given) through pool, one at a time in the calling goroutine, until none
// is ready, including the jobs those jobs enqueue, as DrainWith with
// default options does.
func (k *Kit) Drain(ctx context.Context, t testing.TB, pool *worker.Pool, queues ...string) *DrainReport {
	t.Helper()
	return k.DrainWith(ctx, t, pool, DrainOptions{Queues: queues})
}

// DrainWith runs jobs through pool, the app's pool (built on the kit's
// queue, not started), until the drained queues have no job ready: it
// leases one job at a time, as a worker does (highest priority first, then
// oldest run time), runs it through the pool's middleware and handlers
// (worker.Pool.RunJob) and settles it, so that retries, dead jobs, ordering
// keys and jobs enqueued by handlers behave as they do in production. With
// opts.Advance it then moves the kit's clock to the next waiting job, and
// goes on. It fails t when a job fails to run or settle, when a job's kind
// has no handler on pool, and when it ran opts.MaxJobs with a job still
// ready; a handler's error is not a failure of Drain (see the report's
// Runs and Outcomes).
func (k *Kit) DrainWith(ctx context.Context, t testing.TB, pool *worker.Pool, opts DrainOptions) *DrainReport {
	t.Helper()
	if !k.own(t, "Drain", pool) {
		return nil
	}
	queues := opts.Queues
	if len(queues) == 0 {
		queues = pool.Queues()
	}
	if opts.MaxJobs <= 0 {
		opts.MaxJobs = 1000
	}
	rep := &DrainReport{}
	for {
		ran, next, ok := k.drainRound(ctx, t, pool, queues, opts.MaxJobs, rep)
		if !ok {
			return rep
		}
		if ran {
			continue // a job may have enqueued into a queue drained earlier in the round
		}
		if next.IsZero() {
			break
		}
		wait := max(next.Sub(k.Now()), 0)
		if rep.Advanced+wait > opts.Advance {
			rep.NextRunAt = next
			break
		}
		k.Advance(wait)
		rep.Advanced += wait
	}
	k.leftovers(ctx, t, queues, rep)
	return rep
}

// drainRound runs each queue's ready jobs once round. It reports whether
// it ran any, the earliest run time of the queues' waiting jobs, and false
// when it failed t.
func (k *Kit) drainRound(ctx context.Context, t testing.TB, pool *worker.Pool, queues []string, maxJobs int, rep *DrainReport) (ran bool, next time.Time, ok bool) {
	t.Helper()
	for _, name := range queues {
		for {
			now := k.Now()
			lr, err := k.q.Store().Lease(ctx, queue.LeaseParams{Queue: name, Limit: 1, Now: now, Until: now.Add(leaseFor), Worker: leaseHolder})
			if err != nil {
				t.Fatalf("spooltest: Drain: lease from queue %q: %v", name, err)
				return false, time.Time{}, false
			}
			if len(lr.Jobs) == 0 {
				if n := lr.NextRunAt; !lr.Paused && !n.IsZero() && (next.IsZero() || n.Before(next)) {
					next = n
				}
				break
			}
			j := lr.Jobs[0]
			if len(rep.Runs) >= maxJobs {
				k.handBack(ctx, t, lr.Jobs)
				t.Fatalf("spooltest: Drain ran %d jobs (DrainOptions.MaxJobs) and job %d (%s) is still ready: a job that enqueues itself forever? Ran: %s",
					len(rep.Runs), j.ID, j.Kind, rep)
				return false, time.Time{}, false
			}
			res := k.run(ctx, t, pool, j)
			if res == nil {
				return false, time.Time{}, false
			}
			rep.Runs = append(rep.Runs, res)
			ran = true
			if errors.Is(res.Err, worker.ErrNoHandler) {
				t.Fatalf("spooltest: Drain: job %d of kind %q has no handler on the pool: register it with Pool.Handle (it was retried, as a pool retries it)",
					j.ID, j.Kind)
				return false, time.Time{}, false
			}
		}
	}
	return ran, next, true
}

// leftovers counts in rep the jobs the drain left in queues.
func (k *Kit) leftovers(ctx context.Context, t testing.TB, queues []string, rep *DrainReport) {
	t.Helper()
	st, err := k.q.Inspector().Stats(ctx)
	if err != nil {
		t.Fatalf("spooltest: Drain: stats: %v", err)
		return
	}
	for _, qs := range st.Queues {
		if !slices.Contains(queues, qs.Name) {
			continue
		}
		if qs.Paused {
			// Counted once, as paused: whatever their time or key, they
			// wait for the queue to resume.
			rep.Paused += qs.Pending + qs.Scheduled + qs.Blocked
			continue
		}
		rep.Scheduled += qs.Scheduled
		rep.Blocked += qs.Blocked
	}
}
