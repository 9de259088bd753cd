package schedule

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// testQueue is a queue over a store on a fresh file, for validating job
// templates.
func testQueue(t *testing.T) *queue.Queue {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "spool.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	q, err := queue.New(s, queue.Options{})
	require.NoError(t, err)
	return q
}

// What a schedule stores parses back to the same schedule: the definition
// other processes (List, the admin page, the CLI) read gives the same spec,
// the same zone and the same ticks.
func TestStoredDefinitionRoundTrips(t *testing.T) {
	t.Parallel()
	q := testQueue(t)
	cases := []struct{ spec, zone string }{
		{"0 3 * * *", ""},
		{"0 3 * * *", "Asia/Tokyo"},
		{"CRON_TZ=Asia/Tokyo 0 3 * * *", ""},
		{"CRON_TZ=Asia/Tokyo 0 3 * * *", "Asia/Tokyo"},
		{"TZ=Europe/Berlin 30 2 * * *", ""},
		{"  CRON_TZ=America/New_York\t0 9 * * MON-FRI  ", ""},
		{"0 30 2 * * *", "Europe/Berlin"},
		{"@daily", "Australia/Lord_Howe"},
		{"CRON_TZ=Etc/GMT+5 @hourly", ""},
		{"@every 1h7m", "Asia/Kolkata"},
		{"*/7 1-3 * * *", "UTC"},
	}
	base := time.Date(2026, 3, 28, 22, 0, 0, 0, time.UTC)
	for _, c := range cases {
		e, err := newEntry(q, Entry{Name: "x", Spec: c.spec, TimeZone: c.zone, Job: queue.NewJob{Kind: "k"}}, base)
		require.NoError(t, err, "%q in %q", c.spec, c.zone)
		d := e.def()
		spec, zone, loc, sched, _, err := parseSpec(d.Spec, d.TimeZone)
		require.NoError(t, err, "stored %q in %q does not parse", d.Spec, d.TimeZone)
		require.Equal(t, d.Spec, spec, c.spec)
		require.Equal(t, d.TimeZone, zone, c.spec)
		require.Equal(t, e.loc.String(), loc.String(), c.spec)
		// And once more: a stored definition read back stores the same.
		again, err := newEntry(q, Entry{Name: "x", Spec: d.Spec, TimeZone: d.TimeZone, Job: queue.NewJob{Kind: "k"}}, base)
		require.NoError(t, err)
		require.True(t, again.sameDef(d), "%q: %+v became %+v", c.spec, d, again.def())
		a, b := base, base
		for range 20 {
			a, b = e.sched.Next(a), sched.Next(b)
			require.True(t, a.Equal(b), "%q in %q: tick %s read back as %s", c.spec, c.zone, a, b)
		}
	}
}
