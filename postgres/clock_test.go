package postgres_test

// The database's clock (clock.go): stores translate every time they keep
// into the database's frame, so hosts whose clocks disagree agree on
// leases, run times and leader terms; the offset follows a host clock's
// step on the next re-measure, and not the noise of each measure.

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/internal/syncbuf"
	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
)

// skewedHosts opens two stores on one fresh schema: a, whose host clock is
// the machine's (the database's), and b, whose host clock is skew fast.
// It returns b's clock.
func skewedHosts(t *testing.T, skew time.Duration) (a, b *postgres.Store, bNow func() time.Time) {
	t.Helper()
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	bNow = func() time.Time { return time.Now().Add(skew) }
	open := func(opts postgres.Options) *postgres.Store {
		opts.Schema, opts.MaxConns, opts.NoListen = schema, 2, true
		s, err := postgres.Open(context.Background(), url, opts)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	a = open(postgres.Options{})
	b = open(postgres.WithHostClock(postgres.Options{}, postgres.HostClock{Now: bNow}))
	require.Zero(t, a.ClockOffset(), "a host in time with the database translates nothing")
	require.InDelta(t, -skew, b.ClockOffset(), float64(postgres.ClockStep))
	return a, b, bNow
}

// A host whose clock is 10 minutes fast does not rescue another host's
// live lease: leases expire in the database's frame, and each host reads
// them in its own.
func TestClockSkewedHostDoesNotRescueLiveLeases(t *testing.T) {
	t.Parallel()
	const skew = 10 * time.Minute
	ctx := context.Background()
	a, b, bNow := skewedHosts(t, skew)
	qa, err := queue.New(a, queue.Options{})
	require.NoError(t, err)

	// A leases a job for 30 s.
	_, err = qa.Enqueue(ctx, queue.NewJob{Kind: "k", Queue: "now"})
	require.NoError(t, err)
	aNow := time.Now()
	aUntil := aNow.Add(30 * time.Second)
	res, err := a.Lease(ctx, queue.LeaseParams{Queue: "now", Limit: 1, Now: aNow, Until: aUntil, Worker: "a"})
	require.NoError(t, err)
	require.Len(t, res.Jobs, 1)
	leased := res.Jobs[0].ID

	// B's rescuer, at B's now, finds it live; at B's time for A's expiry
	// (plus a second) it finds it expired, read back in B's frame.
	expired, err := b.Expired(ctx, bNow(), 10)
	require.NoError(t, err)
	require.Empty(t, expired, "B's fast clock must not expire A's live lease")
	expired, err = b.Expired(ctx, aUntil.Add(skew+time.Second), 10)
	require.NoError(t, err)
	require.Len(t, expired, 1)
	require.Equal(t, leased, expired[0].ID)
	require.WithinDuration(t, aUntil.Add(skew), expired[0].LeaseUntil, postgres.ClockStep)

}

// A host whose clock is 10 minutes fast does not lease a job before its
// run time: A schedules a job 1 min ahead of its clock, and B does not
// lease it at its own now (A's now + 10 min), nor until its clock passes
// A's run time + 10 min.
func TestClockSkewedHostLeasesOnlyDueJobs(t *testing.T) {
	t.Parallel()
	const skew = 10 * time.Minute
	ctx := context.Background()
	a, b, bNow := skewedHosts(t, skew)
	qa, err := queue.New(a, queue.Options{})
	require.NoError(t, err)
	runAt := time.Now().Add(time.Minute)
	_, err = qa.Enqueue(ctx, queue.NewJob{Kind: "k", Queue: "later", RunAt: runAt})
	require.NoError(t, err)
	lease := func(now time.Time) queue.LeaseResult {
		t.Helper()
		res, err := b.Lease(ctx, queue.LeaseParams{Queue: "later", Limit: 1, Now: now, Until: now.Add(time.Minute), Worker: "b"})
		require.NoError(t, err)
		return res
	}
	early := lease(bNow())
	require.Empty(t, early.Jobs, "B's fast clock must not lease A's job early")
	require.WithinDuration(t, runAt.Add(skew), early.NextRunAt, postgres.ClockStep, "B reads the run time in its frame")
	require.Empty(t, lease(runAt.Add(skew-time.Second)).Jobs)
	due := lease(runAt.Add(skew + time.Second))
	require.Len(t, due.Jobs, 1)
	require.WithinDuration(t, runAt.Add(skew), due.Jobs[0].RunAt, postgres.ClockStep)
}

// A leader's term is in the database's frame too: a host whose clock is
// 10 minutes fast does not take over a term another host holds.
func TestClockSkewedHostWaitsForLeaderTerm(t *testing.T) {
	t.Parallel()
	const skew = 10 * time.Minute
	ctx := context.Background()
	a, b, bNow := skewedHosts(t, skew)
	aNow := time.Now()
	lead, err := a.Lead(ctx, "maint", "a", aNow, 30*time.Second)
	require.NoError(t, err)
	require.True(t, lead)
	lead, err = b.Lead(ctx, "maint", "b", bNow(), 30*time.Second)
	require.NoError(t, err)
	require.False(t, lead, "B's fast clock must not end A's term")
	lead, err = b.Lead(ctx, "maint", "b", aNow.Add(skew+31*time.Second), 30*time.Second)
	require.NoError(t, err)
	require.True(t, lead, "at B's time for the term's end, B takes over")
}

// Schedule cursors are cron ticks named in each host's calendar, and are
// not translated: a tick two hosts name alike fires once, whatever their
// clocks' skew. (Translated, B's 13:00 would be stored 10 minutes before
// A's 13:00, and A would fire it again.)
func TestClockScheduleTicksFireOnceAcrossSkewedHosts(t *testing.T) {
	t.Parallel()
	const skew = 10 * time.Minute
	ctx := context.Background()
	a, b, bNow := skewedHosts(t, skew)
	def := queue.ScheduleState{Name: "hourly", Spec: "0 * * * *", TimeZone: "UTC", Kind: "k", Queue: "default", Misfire: "skip"}
	require.NoError(t, a.SaveSchedule(ctx, nil, def, time.Now()))
	tick := time.Now().Truncate(time.Hour).Add(2 * time.Hour) // after now in both frames
	fired, err := b.FireSchedule(ctx, nil, queue.ScheduleFire{Name: "hourly", Tick: tick, Now: bNow()})
	require.NoError(t, err)
	require.True(t, fired, "B fires the tick by its clock, early")
	fired, err = a.FireSchedule(ctx, nil, queue.ScheduleFire{Name: "hourly", Tick: tick, Now: time.Now()})
	require.NoError(t, err)
	require.False(t, fired, "A must not fire the same tick again")
	states, err := a.Schedules(ctx)
	require.NoError(t, err)
	require.Len(t, states, 1)
	require.True(t, states[0].LastTick.Equal(tick), "both hosts read the tick as named")
}

// stepClock is a host clock that a test steps.
type stepClock struct{ skew atomic.Int64 }

func (c *stepClock) now() time.Time { return time.Now().Add(time.Duration(c.skew.Load())) }

func (c *stepClock) set(d time.Duration) { c.skew.Store(int64(d)) }

// The background re-measure adopts a step of the host's clock at its next
// tick, and reads stored times back in the new frame; a change below the
// threshold (a measure's noise) is not adopted, so read-back times do not
// wobble.
func TestClockRemeasureAdoptsSteps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var host stepClock
	ticks := make(chan time.Time)
	measured := make(chan time.Duration)
	var logs syncbuf.Buffer
	opts := postgres.WithHostClock(postgres.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))},
		postgres.HostClock{Now: host.now, Ticks: ticks, Measured: measured})
	s := openStore(t, opts)
	require.Zero(t, s.ClockOffset())
	remeasure := func() time.Duration {
		t.Helper()
		timeout := time.NewTimer(10 * time.Second)
		defer timeout.Stop()
		select {
		case ticks <- time.Now():
		case <-timeout.C:
			t.Fatal("the re-measure did not take its tick")
		}
		select {
		case off := <-measured:
			return off
		case <-timeout.C:
			t.Fatal("the re-measure did not finish")
		}
		return 0
	}

	runAt := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	q, err := queue.New(s, queue.Options{})
	require.NoError(t, err)
	res, err := q.Enqueue(ctx, queue.NewJob{Kind: "k", RunAt: runAt})
	require.NoError(t, err)

	// Below the threshold: kept.
	host.set(postgres.ClockStep / 2)
	require.Zero(t, remeasure())
	require.Zero(t, s.ClockOffset())
	require.NotContains(t, logs.String(), "stepped")

	// The host's clock steps an hour ahead: adopted.
	host.set(time.Hour)
	off := remeasure()
	require.InDelta(t, -time.Hour, off, float64(postgres.ClockStep))
	require.Equal(t, off, s.ClockOffset())
	require.Contains(t, logs.String(), "stepped")
	j, err := s.Get(ctx, res.ID)
	require.NoError(t, err)
	require.WithinDuration(t, runAt.Add(time.Hour), j.RunAt, postgres.ClockStep, "stored times read back in the new frame")

	// Noise around the new offset: kept exactly.
	host.set(time.Hour + postgres.ClockStep/2)
	require.Equal(t, off, remeasure())
	host.set(time.Hour - postgres.ClockStep/2)
	require.Equal(t, off, remeasure())
	j2, err := s.Get(ctx, res.ID)
	require.NoError(t, err)
	require.True(t, j2.RunAt.Equal(j.RunAt), "read-back times do not wobble")

	// And back: adopted again.
	host.set(0)
	require.Zero(t, remeasure().Round(time.Second))
	j, err = s.Get(ctx, res.ID)
	require.NoError(t, err)
	require.WithinDuration(t, runAt, j.RunAt, postgres.ClockStep)
}
