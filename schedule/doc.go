// Package schedule enqueues periodic jobs from cron specs: a nightly stock
// sync, an hourly feed export, invoice reminders at 9:00 in the shop's time
// zone. Each tick is enqueued once — never twice, never silently lost —
// however many processes run a scheduler and however often they restart.
//
//	s, err := schedule.New(q, schedule.Options{})
//	err = s.Add(schedule.Entry{
//		Name:     "stock.sync.nightly",
//		Spec:     "30 2 * * *",
//		TimeZone: "Europe/Berlin",
//		Job:      queue.NewJob{Kind: "stock.sync", Queue: "maintenance"},
//	})
//	err = s.Start(ctx)
//	defer s.Stop(ctx)
//
// # Specs
//
// Specs are parsed by github.com/robfig/cron/v3: five fields (minute, hour,
// day of month, month, day of week), an optional leading seconds field,
// and descriptors such as @hourly, @daily, @weekly and @every 90s. A spec
// is read in a time zone: a CRON_TZ= (or TZ=) prefix, or Entry.TimeZone.
// The default is UTC, not the machine's zone, so that processes in
// different zones agree on the ticks.
//
// Daylight saving time follows robfig/cron: a tick that falls in the hour
// skipped when clocks spring forward does not fire that day (a daily 02:30
// in Europe/Berlin does not run on the last Sunday of March), and a tick in
// the hour repeated when clocks fall back fires twice (02:30 summer time,
// then 02:30 winter time). Schedule such jobs outside 02:00–03:00, or in
// UTC, where that matters.
//
// # Exactly once per tick
//
// The store keeps one row per schedule, shared by every scheduler on the
// database. Its cursor is the latest tick handled. A scheduler enqueues a
// tick's job and moves the cursor forward in one transaction, and moves it
// only if it is still before the tick: of several schedulers that see the
// same tick, one commits and the others roll back. Since the cursor never
// moves back, a tick cannot fire again, not after a restart and not after
// its job completed and was deleted. Each job also carries an idempotency
// key made of the schedule name and the tick time (queue.NewJob.UniqueKey),
// and metadata naming its schedule and tick ([MetadataSchedule],
// [MetadataTick]).
//
// A new schedule's first tick is the first after a scheduler first
// registered it. Ticks missed while no scheduler ran (a deploy, an outage)
// follow the entry's [Misfire] policy: [MisfireCatchUp], the default,
// enqueues one job for all of them, keyed by the latest; [MisfireSkip]
// drops ticks found more than Options.MisfireGrace late.
//
// A schedule whose spec or time zone changes (a deploy with a new Entry of
// the same name) counts from the change: the new spec's earlier ticks were
// never due and do not fire as missed. While a rolling deploy runs old and
// new processes side by side, each stores its own definition in turn, so a
// tick near the switch can be skipped; give a changed schedule a new name
// where that matters. Resuming a schedule that is not paused changes
// nothing.
//
// # Operating
//
// [Scheduler.List] returns every schedule on the store with its next and
// previous run; [Scheduler.Pause], [Scheduler.Resume] and
// [Scheduler.Trigger] act on any schedule on the store, so a CLI or admin
// page can use a Scheduler that has nothing registered. Pausing holds in
// every process until resumed; ticks that pass while paused are skipped. A
// trigger is a stored request that the next scheduler with the schedule
// registered serves by enqueueing one job, paused or not.
//
// The scheduler's loop sleeps until the next tick or Options.PollInterval,
// whichever comes first. The work of one round is [Scheduler.RunOnce],
// which tests call directly with a fake clock (Options.Now).
package schedule
