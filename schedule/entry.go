package schedule

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/spooljobs/spool/queue"
)

// Entry describes a schedule to register with Scheduler.Add.
type Entry struct {
	// Name identifies the schedule across processes and restarts, such as
	// "stock.sync.nightly". Required: 1 to 128 characters of letters,
	// digits and "._:-/". Renaming a schedule makes it a new schedule.
	Name string
	// Spec is the cron spec: five fields (minute hour day-of-month month
	// day-of-week), an optional leading seconds field, or a descriptor
	// (@yearly, @monthly, @weekly, @daily, @hourly, @every 90s). It may
	// start with a CRON_TZ= or TZ= time zone prefix. Required.
	Spec string
	// TimeZone is the IANA zone the spec is read in, such as
	// "Europe/Berlin". Defaults to the spec's CRON_TZ= prefix, else UTC.
	// "Local" is refused: processes on machines in different zones would
	// disagree on the ticks.
	TimeZone string
	// Job is the template of the job each tick enqueues. Kind is required;
	// Queue, Payload or Args, Priority, Delay, MaxAttempts, Timeout,
	// Metadata and OrderKey are used as given (Args is encoded to JSON
	// once, at Add; an OrderKey keeps one tick's job from overlapping the
	// previous one's). UniqueKey, RunAt and ExpiresAt must be empty, and
	// UniqueByArgs, UniqueFor and UniqueStates unset: the scheduler keys
	// each job by its tick and runs it at once (or Delay after the tick is
	// enqueued).
	Job queue.NewJob
	// Misfire is the policy for ticks missed while no scheduler ran.
	// Defaults to MisfireCatchUp.
	Misfire Misfire
}

// Misfire is a policy for ticks that were missed because no scheduler ran
// at their time (a deploy, an outage, a machine asleep).
type Misfire string

// The misfire policies.
const (
	// MisfireCatchUp enqueues one job, as soon as a scheduler runs again,
	// for all the ticks missed: the job of the latest of them. A nightly
	// sync missed during an outage runs once when the outage ends. This is
	// the default.
	MisfireCatchUp Misfire = "catch-up"
	// MisfireSkip drops the ticks a scheduler finds more than
	// Options.MisfireGrace after their time; the schedule goes on with its
	// next tick. Use it for work that is pointless late, such as a
	// "happy hour starts" notification.
	MisfireSkip Misfire = "skip"
)

// Metadata keys the scheduler adds to every job it enqueues.
const (
	// MetadataSchedule holds the schedule's name.
	MetadataSchedule = "spool.schedule"
	// MetadataTick holds the tick the job is for, in RFC 3339 with the
	// schedule's UTC offset, such as "2026-03-30T02:30:00+02:00". For a
	// catch-up job it is the latest missed tick.
	MetadataTick = "spool.tick"
	// MetadataTrigger holds, on a job enqueued by Trigger instead of a
	// tick, when the trigger was requested (RFC 3339, UTC).
	MetadataTrigger = "spool.trigger"
)

// ErrInvalid is wrapped by every *InvalidError.
var ErrInvalid = errors.New("schedule: invalid schedule")

// InvalidError says which part of an Entry is wrong and why. It wraps
// ErrInvalid, and Err where set.
type InvalidError struct {
	// Name is the schedule's name as given.
	Name string
	// Field names the Entry field, such as "Spec", "TimeZone" or
	// "Job.Kind".
	Field string
	// Reason says what is wrong with it.
	Reason string
	// Err is the queue's *queue.InvalidJobError when Enqueue would refuse
	// the job of a tick (errors.Is then matches queue.ErrInvalidJob, and
	// queue.ErrPayloadTooLarge for an oversize payload), else nil.
	Err error
}

// Error implements error.
func (e *InvalidError) Error() string {
	return fmt.Sprintf("schedule: invalid schedule %q: %s: %s", e.Name, e.Field, e.Reason)
}

// Unwrap lets errors.Is match ErrInvalid and, where set, Err.
func (e *InvalidError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalid, e.Err}
	}
	return []error{ErrInvalid}
}

// entry is a validated Entry.
type entry struct {
	name    string
	spec    string // without a time zone prefix
	zone    string
	loc     *time.Location
	sched   cron.Schedule
	job     queue.NewJob // normalised template: Queue set, Args encoded
	misfire Misfire
}

// specParser reads five fields, an optional seconds field and descriptors.
// A Parser is an immutable value.
var specParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// newEntry validates e at time now. The job template is checked by q, the
// queue the scheduler enqueues into, as the jobs of its ticks and triggers
// (with the keys the scheduler adds): what Enqueue would refuse at every
// tick is refused here, by the same rules.
func newEntry(q *queue.Queue, e Entry, now time.Time) (*entry, error) {
	bad := func(field, format string, a ...any) (*entry, error) {
		return nil, &InvalidError{Name: e.Name, Field: field, Reason: fmt.Sprintf(format, a...)}
	}
	if err := queue.ValidName(e.Name); err != nil {
		return bad("Name", "%v", err)
	}
	spec, zone, loc, sched, field, err := parseSpec(e.Spec, e.TimeZone)
	if err != nil {
		return bad(field, "%v", err)
	}
	first := sched.Next(now)
	if first.IsZero() {
		return bad("Spec", "%q matches no time in the next five years", e.Spec)
	}
	switch e.Misfire {
	case "":
		e.Misfire = MisfireCatchUp
	case MisfireCatchUp, MisfireSkip:
	default:
		return bad("Misfire", "unknown policy %q (want %q or %q)", e.Misfire, MisfireCatchUp, MisfireSkip)
	}
	j := e.Job
	switch {
	case !j.RunAt.IsZero():
		return bad("Job.RunAt", "must be empty: a schedule's job runs at its tick (use Delay to run it later)")
	case j.UniqueKey != "":
		return bad("Job.UniqueKey", "must be empty: the scheduler keys each job by its schedule and tick")
	case j.UniqueByArgs || j.UniqueFor != 0 || j.UniqueStates != nil:
		return bad("Job.UniqueByArgs", "UniqueByArgs, UniqueFor and UniqueStates must be unset: the scheduler keys each job by its schedule and tick")
	case !j.ExpiresAt.IsZero():
		return bad("Job.ExpiresAt", "must be empty: a fixed deadline would expire the jobs of every later tick")
	}
	if j.Queue == "" {
		j.Queue = queue.DefaultQueue // stored with the schedule's definition
	}
	if j.Payload != nil {
		j.Payload = append([]byte{}, j.Payload...)
	}
	j.Metadata = maps.Clone(j.Metadata)
	en := &entry{name: e.Name, spec: spec, zone: zone, loc: loc, sched: sched, job: j, misfire: e.Misfire}
	for _, job := range []queue.NewJob{en.tickJob(first), en.triggerJob(now)} {
		if err := q.ValidateJob(job); err != nil {
			var ie *queue.InvalidJobError
			if !errors.As(err, &ie) {
				return nil, err
			}
			return nil, &InvalidError{Name: e.Name, Field: "Job." + ie.Field, Reason: ie.Reason, Err: err}
		}
	}
	if j.Args != nil {
		// Encoded once, here: every tick's job carries the same bytes.
		b, err := json.Marshal(j.Args)
		if err != nil {
			return bad("Job.Args", "cannot encode %s as JSON: %v", reflect.TypeOf(j.Args), err)
		}
		en.job.Payload, en.job.Args = b, nil
	}
	return en, nil
}

// parseSpec splits a time zone prefix off spec, resolves the zone (the
// prefix, else timeZone, else UTC) and parses the rest. On error it names
// the Entry field at fault.
func parseSpec(spec, timeZone string) (rest, zone string, loc *time.Location, sched cron.Schedule, field string, err error) {
	rest = strings.TrimSpace(spec)
	if rest == "" {
		return "", "", nil, nil, "Spec", errors.New("empty spec")
	}
	zone = timeZone
	if strings.HasPrefix(rest, "CRON_TZ=") || strings.HasPrefix(rest, "TZ=") {
		_, after, _ := strings.Cut(rest, "=")
		prefix := after
		if i := strings.IndexAny(after, " \t"); i >= 0 {
			prefix, rest = after[:i], strings.TrimSpace(after[i:])
		} else {
			rest = ""
		}
		if rest == "" {
			return "", "", nil, nil, "Spec", fmt.Errorf("%q has a time zone prefix but no schedule after it", spec)
		}
		// The rest is stored as the spec, and robfig/cron would read a
		// second prefix in it: the zone stored would not be the zone run.
		if strings.HasPrefix(rest, "CRON_TZ=") || strings.HasPrefix(rest, "TZ=") {
			return "", "", nil, nil, "Spec", fmt.Errorf("%q has two time zone prefixes; give one", spec)
		}
		if timeZone != "" && timeZone != prefix {
			return "", "", nil, nil, "TimeZone", fmt.Errorf("%q conflicts with the spec's prefix %q; set the zone in one place", timeZone, prefix)
		}
		zone = prefix
	}
	if zone == "" {
		zone = "UTC"
	}
	if zone == "Local" {
		return "", "", nil, nil, "TimeZone", errors.New(`"Local" depends on the machine; name a zone such as "Europe/Berlin" or "UTC"`)
	}
	loc, err = time.LoadLocation(zone)
	if err != nil {
		return "", "", nil, nil, "TimeZone", fmt.Errorf("unknown time zone %q: %v", zone, err)
	}
	sched, err = parseCron(rest)
	if err != nil {
		return "", "", nil, nil, "Spec", fmt.Errorf("%q: %v", rest, err)
	}
	if s, ok := sched.(*cron.SpecSchedule); ok {
		s.Location = loc
	}
	return rest, loc.String(), loc, sched, "", nil
}

// parseCron parses a spec without a zone prefix, turning a panic of the
// parser on odd input into an error.
func parseCron(spec string) (s cron.Schedule, err error) {
	// robfig/cron turns "@every" durations under a second into one second
	// and drops fractions: "@every -1h" would run every second. Refuse what
	// it would change.
	if rest, ok := strings.CutPrefix(spec, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return nil, fmt.Errorf("@every needs a duration such as 90s or 1h30m: %v", err)
		}
		if d < time.Second || d%time.Second != 0 {
			return nil, fmt.Errorf("@every %s: the interval must be a whole number of seconds, at least 1s", d)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("cannot parse: %v", r)
		}
	}()
	return specParser.Parse(spec)
}

// def is the definition stored for e.
func (e *entry) def() queue.ScheduleState {
	return queue.ScheduleState{Name: e.name, Spec: e.spec, TimeZone: e.zone, Kind: e.job.Kind,
		Queue: e.job.Queue, Misfire: string(e.misfire)}
}

// sameDef reports whether st holds e's definition.
func (e *entry) sameDef(st queue.ScheduleState) bool {
	d := e.def()
	return st.Spec == d.Spec && st.TimeZone == d.TimeZone && st.Kind == d.Kind && st.Queue == d.Queue && st.Misfire == d.Misfire
}

// tickJob is the job for one tick.
func (e *entry) tickJob(tick time.Time) queue.NewJob {
	return e.newJob(tickKey(e.name, tick), MetadataTick, tick.In(e.loc).Format(time.RFC3339))
}

// triggerJob is the job for the trigger request made at at.
func (e *entry) triggerJob(at time.Time) queue.NewJob {
	return e.newJob("spool.schedule:"+e.name+"@trigger:"+at.UTC().Format(time.RFC3339Nano),
		MetadataTrigger, at.UTC().Format(time.RFC3339Nano))
}

func (e *entry) newJob(key, metaKey, metaValue string) queue.NewJob {
	j := e.job
	j.UniqueKey = key
	j.Metadata = make(map[string]string, len(e.job.Metadata)+2)
	maps.Copy(j.Metadata, e.job.Metadata)
	j.Metadata[MetadataSchedule] = e.name
	j.Metadata[metaKey] = metaValue
	return j
}

// tickKey is the idempotency key of a schedule's tick: the name and the
// tick's instant in UTC.
func tickKey(name string, tick time.Time) string {
	return "spool.schedule:" + name + "@" + tick.UTC().Format(time.RFC3339Nano)
}
