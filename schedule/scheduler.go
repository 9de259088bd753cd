package schedule

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/spooljobs/spool/queue"
)

// Options configure a Scheduler. The zero value is ready to use.
type Options struct {
	// PollInterval bounds how long the scheduler sleeps between rounds
	// when no tick is due sooner, so that it picks up triggers, pauses and
	// resumes made by other processes. Defaults to 1s.
	PollInterval time.Duration
	// MisfireGrace is how late a tick may be and still be enqueued under
	// MisfireSkip; a tick found later than that is skipped. Defaults to 1m.
	MisfireGrace time.Duration
	// Now is the clock. Defaults to the queue's clock (queue.Options.Now).
	// Tests inject a fake clock and call RunOnce.
	Now func() time.Time
	// Logger receives the scheduler's log records. Defaults to the queue's
	// logger.
	Logger *slog.Logger
}

func (o *Options) defaults(q *queue.Queue) error {
	switch {
	case o.PollInterval == 0:
		o.PollInterval = time.Second
	case o.PollInterval < 0:
		return fmt.Errorf("schedule: Options.PollInterval %s is negative", o.PollInterval)
	}
	switch {
	case o.MisfireGrace == 0:
		o.MisfireGrace = time.Minute
	case o.MisfireGrace < 0:
		return fmt.Errorf("schedule: Options.MisfireGrace %s is negative", o.MisfireGrace)
	}
	if o.Now == nil {
		o.Now = q.Now
	}
	if o.Logger == nil {
		o.Logger = q.Logger()
	}
	return nil
}

// Scheduler enqueues the jobs of its registered schedules at their ticks.
// Any number of schedulers, in one process or several, may work the same
// store: each tick is enqueued once. A Scheduler with nothing registered
// still lists, pauses, resumes and triggers the schedules on the store. It
// is safe for concurrent use.
type Scheduler struct {
	q      *queue.Queue
	store  queue.ScheduleStore
	opts   Options
	logger *slog.Logger
	wake   chan struct{}

	mu      sync.Mutex
	entries map[string]*entry
	started bool
	stopped bool
	stop    chan struct{}
	done    chan struct{}
	cancel  context.CancelFunc
}

// New returns a scheduler that enqueues into q. The queue's store must
// implement queue.ScheduleStore (package sqlite's does). Register schedules
// with Add, then Start.
func New(q *queue.Queue, opts Options) (*Scheduler, error) {
	if q == nil {
		return nil, errors.New("schedule: queue is nil")
	}
	store, ok := q.Store().(queue.ScheduleStore)
	if !ok {
		return nil, fmt.Errorf("schedule: the queue's store (%T) does not implement queue.ScheduleStore", q.Store())
	}
	if err := opts.defaults(q); err != nil {
		return nil, err
	}
	return &Scheduler{q: q, store: store, opts: opts, logger: opts.Logger,
		wake: make(chan struct{}, 1), entries: map[string]*entry{}}, nil
}

// Add registers a schedule. An invalid spec, an unknown time zone, a name
// already added, or an invalid job template is an *InvalidError naming the
// schedule and what is wrong. Add may be called after Start.
func (s *Scheduler) Add(e Entry) error {
	en, err := newEntry(s.q, e, s.opts.Now())
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries[en.name] != nil {
		return &InvalidError{Name: e.Name, Field: "Name", Reason: "a schedule of this name was already added"}
	}
	s.entries[en.name] = en
	s.poke()
	return nil
}

// poke wakes the loop, if it runs, for a round now.
func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// snapshot returns the registered entries ordered by name.
func (s *Scheduler) snapshot() []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*entry, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *entry) int { return cmp.Compare(a.name, b.name) })
	return out
}

func (s *Scheduler) registered(name string) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries[name]
}

// states reads every stored schedule, by name.
func (s *Scheduler) states(ctx context.Context) (map[string]queue.ScheduleState, error) {
	list, err := s.store.Schedules(ctx)
	if err != nil {
		return nil, fmt.Errorf("schedule: read schedules: %w", err)
	}
	m := make(map[string]queue.ScheduleState, len(list))
	for _, st := range list {
		m[st.Name] = st
	}
	return m, nil
}

// RunOnce is one round of the scheduler: it records new or changed
// registrations in the store, enqueues the due tick of every registered
// schedule that is not paused (or, under MisfireSkip, skips it when it is
// too late) and serves pending triggers. It returns the time of the next
// tick of the registered schedules that are not paused (zero if none), and
// the errors of the schedules that failed; the others were still run.
func (s *Scheduler) RunOnce(ctx context.Context) (time.Time, error) {
	entries := s.snapshot()
	if len(entries) == 0 {
		return time.Time{}, nil
	}
	now := s.opts.Now()
	states, err := s.states(ctx)
	if err != nil {
		return time.Time{}, err
	}
	var (
		next  time.Time
		errs  []error
		saved bool
	)
	for _, e := range entries {
		if st, ok := states[e.name]; ok && e.sameDef(st) {
			continue
		}
		if err := s.store.SaveSchedule(ctx, nil, e.def(), now); err != nil {
			errs = append(errs, fmt.Errorf("schedule %q: store the definition: %w", e.name, err))
			continue
		}
		saved = true
	}
	if saved {
		if states, err = s.states(ctx); err != nil {
			return time.Time{}, errors.Join(append(errs, err)...)
		}
	}
	for _, e := range entries {
		st, ok := states[e.name]
		if !ok {
			continue // not stored: its error is in errs
		}
		if err := s.runEntry(ctx, e, st, now); err != nil {
			errs = append(errs, err)
		}
		if st.Paused {
			continue
		}
		if n := nextTick(e.sched, st.LastTick, now); !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next = n
		}
	}
	return next, errors.Join(errs...)
}

// runEntry serves e's pending trigger and its due tick.
func (s *Scheduler) runEntry(ctx context.Context, e *entry, st queue.ScheduleState, now time.Time) error {
	var errs []error
	if !st.TriggerAt.IsZero() {
		job := e.triggerJob(st.TriggerAt)
		fired, id, err := s.fire(ctx, queue.ScheduleFire{Name: e.name, Trigger: st.TriggerAt, Now: now}, &job)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("schedule %q: trigger requested at %s: %w", e.name, st.TriggerAt.UTC().Format(time.RFC3339), err))
		case fired:
			s.logger.Info("spool: schedule triggered", "schedule", e.name, "job", id, "requested", st.TriggerAt)
		}
	}
	if st.Paused {
		return errors.Join(errs...)
	}
	tick, ok := latestTick(e.sched, st.LastTick, now)
	if !ok {
		return errors.Join(errs...)
	}
	first := e.sched.Next(st.LastTick)
	if e.misfire == MisfireSkip && now.Sub(tick) > s.opts.MisfireGrace {
		fired, _, err := s.fire(ctx, queue.ScheduleFire{Name: e.name, Tick: tick, Skip: true, Now: now}, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule %q: skip ticks up to %s: %w", e.name, tick.In(e.loc).Format(time.RFC3339), err))
		} else if fired {
			s.logger.Warn("spool: schedule skipped missed ticks (misfire policy skip)", "schedule", e.name,
				"first", first.In(e.loc), "last", tick.In(e.loc))
		}
		return errors.Join(errs...)
	}
	job := e.tickJob(tick)
	fired, id, err := s.fire(ctx, queue.ScheduleFire{Name: e.name, Tick: tick, Now: now}, &job)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("schedule %q: tick %s: %w", e.name, tick.In(e.loc).Format(time.RFC3339), err))
	case fired && first.Before(tick):
		s.logger.Info("spool: schedule caught up: one job for the ticks missed (misfire policy catch-up)", "schedule", e.name,
			"job", id, "first", first.In(e.loc), "last", tick.In(e.loc))
	case fired:
		s.logger.Debug("spool: schedule fired", "schedule", e.name, "job", id, "tick", tick.In(e.loc))
	}
	return errors.Join(errs...)
}

// fire records f and enqueues job (nil: nothing, for a skipped tick) in one
// transaction. The fire goes first: it is the guard, so a scheduler that
// loses it rolls back having written nothing, and as a write it takes the
// database's write lock before the enqueue reads anything (which matters
// for an app's pool whose transactions begin DEFERRED). It reports false
// when another scheduler recorded the tick or the trigger first, or the
// schedule was paused in the meantime, and returns the enqueued job's ID.
func (s *Scheduler) fire(ctx context.Context, f queue.ScheduleFire, job *queue.NewJob) (bool, int64, error) {
	tx, err := s.store.DB().BeginTx(ctx, nil)
	if err != nil {
		return false, 0, err
	}
	defer tx.Rollback()
	fired, err := s.store.FireSchedule(ctx, tx, f)
	if err != nil || !fired {
		return false, 0, err
	}
	var id int64
	if job != nil {
		res, err := s.q.EnqueueTx(ctx, tx, *job)
		if err != nil {
			return false, 0, err
		}
		id = res.ID
	}
	if err := tx.Commit(); err != nil {
		return false, 0, err
	}
	if n, ok := s.q.Store().(queue.Notifier); ok && job != nil {
		n.Notify(job.Queue) // committed: wake this process's workers now
	}
	if o := s.q.Observer(); o != nil && o.ScheduleFired != nil {
		e := queue.ScheduleFireEvent{Schedule: f.Name, Fire: f, JobID: id}
		if job != nil {
			e.Queue, e.Kind = job.Queue, job.Kind
		}
		o.ScheduleFired(ctx, e)
	}
	return true, id, nil
}

// Start runs the scheduler's loop until Stop is called or ctx is done: a
// round (RunOnce) at once, then one at each tick, at least every
// Options.PollInterval, and at once after Add or Trigger.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("schedule: scheduler already started")
	}
	s.started = true
	ctx, s.cancel = context.WithCancel(ctx)
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.loop(ctx)
	s.logger.Info("spool: scheduler started", "schedules", len(s.entries))
	return nil
}

func (s *Scheduler) loop(ctx context.Context) {
	defer close(s.done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-s.wake:
		case <-timer.C:
		}
		next, err := s.RunOnce(ctx)
		wait := s.opts.PollInterval
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.logger.Error("spool: scheduler round failed; retrying", "err", err, "in", wait)
		} else if !next.IsZero() {
			wait = min(wait, max(next.Sub(s.opts.Now()), time.Millisecond))
		}
		timer.Reset(wait)
	}
}

// Stop stops the loop, letting a round in progress finish until ctx ends;
// then it cancels the round (its transaction rolls back) and returns ctx's
// error. Stop is safe to call more than once.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.started || s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	close(s.stop)
	s.mu.Unlock()
	defer s.cancel()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.cancel()
		<-s.done
		return ctx.Err()
	}
}

// Info describes a schedule for operators.
type Info struct {
	// Name, Spec (without a zone prefix), TimeZone, Kind, Queue and
	// Misfire are the definition a scheduler last stored.
	Name     string
	Spec     string
	TimeZone string
	Kind     string
	Queue    string
	Misfire  Misfire
	// Next is the first tick after now, in the schedule's zone. Zero when
	// the spec matches no time, or a newer spool stored a spec this one
	// cannot read.
	Next time.Time
	// Prev is the tick of the latest job enqueued, or when the trigger it
	// served was requested, in the schedule's zone; zero before the first.
	Prev time.Time
	// Paused is true while the schedule is paused.
	Paused bool
	// TriggerAt is when a pending trigger was requested; zero if none.
	TriggerAt time.Time
	// Registered is true for a schedule added to this Scheduler; false
	// for one known only from the store (added by another process, or by
	// an earlier version of the program).
	Registered bool
}

// List returns every schedule on the store and every one added to this
// Scheduler, ordered by name, with next and previous run times.
func (s *Scheduler) List(ctx context.Context) ([]Info, error) {
	now := s.opts.Now()
	list, err := s.store.Schedules(ctx)
	if err != nil {
		return nil, fmt.Errorf("schedule: list: %w", err)
	}
	entries := s.snapshot()
	byName := make(map[string]*entry, len(entries))
	for _, e := range entries {
		byName[e.name] = e
	}
	out := make([]Info, 0, len(list)+len(entries))
	for _, st := range list {
		info := Info{Name: st.Name, Spec: st.Spec, TimeZone: st.TimeZone, Kind: st.Kind, Queue: st.Queue,
			Misfire: Misfire(st.Misfire), Paused: st.Paused, TriggerAt: st.TriggerAt}
		e := byName[st.Name]
		delete(byName, st.Name)
		info.Registered = e != nil
		if e == nil || !e.sameDef(st) {
			// Another process's definition: read it as stored.
			_, _, loc, sched, _, err := parseSpec(st.Spec, st.TimeZone)
			if err == nil {
				e = &entry{loc: loc, sched: sched}
			} else {
				e = nil
			}
		}
		if e != nil {
			if n := nextTick(e.sched, st.LastTick, now); !n.IsZero() {
				info.Next = n.In(e.loc)
			}
			if !st.LastRun.IsZero() {
				info.Prev = st.LastRun.In(e.loc)
			}
		} else {
			info.Prev = st.LastRun
		}
		out = append(out, info)
	}
	for _, e := range byName {
		d := e.def()
		info := Info{Name: e.name, Spec: d.Spec, TimeZone: d.TimeZone, Kind: d.Kind, Queue: d.Queue,
			Misfire: e.misfire, Registered: true}
		if n := e.sched.Next(now); !n.IsZero() {
			info.Next = n.In(e.loc)
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b Info) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// Pause pauses the named schedule for every scheduler on the store until
// Resume: its ticks are not enqueued (a trigger still is). The schedule
// must be on the store or added to this Scheduler; else the error wraps
// queue.ErrScheduleNotFound.
func (s *Scheduler) Pause(ctx context.Context, name string) error {
	return s.update(ctx, "pause", name, func(now time.Time) error {
		return s.store.SetSchedulePaused(ctx, nil, name, true, now)
	})
}

// Resume resumes a paused schedule. The ticks that passed while it was
// paused are skipped; the next tick after now is enqueued.
func (s *Scheduler) Resume(ctx context.Context, name string) error {
	return s.update(ctx, "resume", name, func(now time.Time) error {
		return s.store.SetSchedulePaused(ctx, nil, name, false, now)
	})
}

// Trigger requests one run of the named schedule now, outside its ticks,
// whether it is paused or not. The request is stored: the next round of a
// scheduler that has the schedule added (this one at once, if it runs and
// has it) enqueues one job, with MetadataTrigger set. Triggers requested
// before a scheduler serves them make one run.
func (s *Scheduler) Trigger(ctx context.Context, name string) error {
	return s.update(ctx, "trigger", name, func(now time.Time) error {
		return s.store.TriggerSchedule(ctx, nil, name, now)
	})
}

// update applies an operator action, first storing the schedule if it was
// added to this Scheduler but no round has stored it yet.
func (s *Scheduler) update(ctx context.Context, action, name string, apply func(now time.Time) error) error {
	now := s.opts.Now()
	err := apply(now)
	if errors.Is(err, queue.ErrScheduleNotFound) {
		if e := s.registered(name); e != nil {
			if err = s.store.SaveSchedule(ctx, nil, e.def(), now); err == nil {
				err = apply(now)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("schedule: %s: %w", action, err)
	}
	s.poke()
	return nil
}
