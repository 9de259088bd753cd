package queue

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ScheduleStore is the part of a backend that periodic schedules (package
// schedule) need: the state every scheduler on the store shares, so that
// each tick is enqueued once however many processes run a scheduler and
// however often they restart. It is separate from Store; package sqlite
// implements both.
//
// As in Store, all times are passed in by the caller and every write takes
// an optional *sql.Tx (nil: the store's own transaction).
type ScheduleStore interface {
	// DB returns the database the store's transactions belong to. A
	// scheduler begins its write transactions on it, to enqueue a tick's
	// job (Queue.EnqueueTx) and record the tick (FireSchedule) atomically.
	DB() *sql.DB

	// Schedules returns every stored schedule, ordered by name.
	Schedules(ctx context.Context) ([]ScheduleState, error)

	// SaveSchedule records a schedule's definition: Name, Spec, TimeZone,
	// Kind, Queue and Misfire (the other fields are ignored). A new
	// schedule starts with LastTick = now, so its first tick is the first
	// after now; an existing one keeps its state and gets the new
	// definition, except that a new Spec or TimeZone also moves LastTick up
	// to now (a changed spec does not fire the ticks it would have had in
	// the past).
	SaveSchedule(ctx context.Context, tx *sql.Tx, def ScheduleState, now time.Time) error

	// FireSchedule records a fire, guarded so that each tick and each
	// trigger request fires once across schedulers: a tick (f.Tick set)
	// moves LastTick up to f.Tick only if the stored LastTick is still
	// before f.Tick and the schedule is not paused (the cursor never moves
	// back, so a tick once passed cannot fire again, also not after its job
	// finished); a trigger (f.Trigger set) clears TriggerAt only if it
	// still equals f.Trigger. It reports whether it recorded the fire;
	// false means another scheduler got there first, or the schedule was
	// paused. A scheduler calls it first in its transaction and enqueues
	// the fire's job after it only when it returned true, so that a fire
	// and its job commit, or roll back, together. A trigger is served also
	// while the schedule is paused (an operator asked for it). An unknown
	// name fires nothing (false); a fire with both or neither of Tick and
	// Trigger, or Skip with Trigger, is an ErrInvalidArgument.
	FireSchedule(ctx context.Context, tx *sql.Tx, f ScheduleFire) (bool, error)

	// SetSchedulePaused pauses or resumes a schedule for every process on
	// the store. Resuming moves LastTick up to now, so the ticks that
	// passed while the schedule was paused are skipped, not caught up. It
	// returns ErrScheduleNotFound for an unknown name.
	SetSchedulePaused(ctx context.Context, tx *sql.Tx, name string, paused bool, now time.Time) error

	// TriggerSchedule requests one run of the schedule now, outside its
	// ticks: TriggerAt is set to now unless a request is already pending.
	// A scheduler that has the schedule registered serves the request. It
	// returns ErrScheduleNotFound for an unknown name.
	TriggerSchedule(ctx context.Context, tx *sql.Tx, name string, now time.Time) error
}

// ScheduleState is a stored schedule: its definition as a scheduler last
// registered it, and the state all schedulers share.
type ScheduleState struct {
	// Name identifies the schedule.
	Name string
	// Spec is the cron spec, without a time zone prefix.
	Spec string
	// TimeZone is the IANA name of the zone Spec is read in, such as
	// "Europe/Berlin" or "UTC".
	TimeZone string
	// Kind and Queue are those of the job each tick enqueues.
	Kind  string
	Queue string
	// Misfire names the policy for ticks missed while no scheduler ran.
	Misfire string
	// LastTick is the schedule's cursor: every tick up to and including it
	// was enqueued or skipped.
	LastTick time.Time
	// LastRun is the tick of the latest job enqueued, or the time of the
	// trigger request it served; zero before the first.
	LastRun time.Time
	// Paused is true while the schedule is paused.
	Paused bool
	// TriggerAt is when a pending "trigger now" request was made; zero if
	// none is pending.
	TriggerAt time.Time
	// UpdatedAt is when the row last changed.
	UpdatedAt time.Time
}

// ScheduleFire is what FireSchedule records: a tick (the new LastTick) or a
// served trigger request (Trigger).
type ScheduleFire struct {
	// Name is the schedule.
	Name string
	// Tick is the tick being fired: the new LastTick, and the new LastRun
	// unless Skip is set. Set it for a tick fire.
	Tick time.Time
	// Skip records a tick skipped by the misfire policy: LastTick moves,
	// no job is enqueued and LastRun stays as it was.
	Skip bool
	// Trigger is the request being served (the stored TriggerAt); it
	// becomes LastRun. Set it, and leave Tick zero, for a trigger fire.
	Trigger time.Time
	// Now is the time of the fire.
	Now time.Time
}

// IsTick reports whether f fires a tick (true) or serves a trigger request
// (false). A fire sets exactly one of Tick and Trigger, and Skip only with
// Tick; any other f is an ErrInvalidArgument, which a ScheduleStore
// returns from FireSchedule without writing.
func (f ScheduleFire) IsTick() (bool, error) {
	switch {
	case !f.Tick.IsZero() && f.Trigger.IsZero():
		return true, nil
	case f.Tick.IsZero() && !f.Trigger.IsZero() && !f.Skip:
		return false, nil
	}
	return false, fmt.Errorf("%w: schedule %q: fire needs exactly one of Tick and Trigger (Skip only with Tick)", ErrInvalidArgument, f.Name)
}
