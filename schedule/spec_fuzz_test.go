package schedule

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// fuzzStart is where FuzzSpec compares fire times: an hour before the
// spring-forward of 2026 in Europe.
var fuzzStart = time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)

// nextFires returns sched's first n fire times after from (fewer when it
// runs out).
func nextFires(e *entry, from time.Time, n int) []time.Time {
	var out []time.Time
	for t := e.sched.Next(from); !t.IsZero() && len(out) < n; t = e.sched.Next(t) {
		out = append(out, t)
	}
	return out
}

// FuzzSpec checks that what Add accepts is stored in a form that parses
// back to the same schedule: the definition saved in a real SQLite store
// and read back parses (as a scheduler without the schedule registered
// reads it, and as a process registering the stored spec would), to the
// same zone and the same next five fire times from a fixed start. What Add
// refuses is an *InvalidError naming Spec or TimeZone.
//
// Run it longer with:
//
//	go test ./schedule -run '^$' -fuzz '^FuzzSpec$' -fuzztime 60s
func FuzzSpec(f *testing.F) {
	for _, s := range [][2]string{
		{"* * * * *", ""},
		{"30 2 * * *", "Europe/Berlin"},
		{"0 30 2 * * *", "Europe/Berlin"},
		{"*/15 9-17 * * 1-5", "America/New_York"},
		{"0 0 29 2 *", ""},
		{"0 0 30 2 *", ""},
		{"0 0 31 4 *", ""},
		{"1-59/2 * * * *", "UTC"},
		{"*/0 * * * *", ""},
		{"60 * * * *", ""},
		{"0 0 * * 7", ""},
		{"0 0 * JAN-MAR SUN", "Asia/Kolkata"},
		{"? ? * * *", ""},
		{"@daily", ""},
		{"@midnight", "Australia/Lord_Howe"},
		{"@hourly", "Asia/Kathmandu"},
		{"@weekly", ""},
		{"@monthly", "Pacific/Chatham"},
		{"@yearly", ""},
		{"@annually", ""},
		{"@every 90s", ""},
		{"@every 1h30m", "Europe/London"},
		{"@every 0.5s", ""},
		{"@every 1500ms", ""},
		{"@every -1h", ""},
		{"@every 1s", ""},
		{"@bogus", ""},
		{"  @hourly  ", ""},
		{"CRON_TZ=Europe/Berlin 30 2 * * *", ""},
		{"CRON_TZ=Europe/Berlin 30 2 * * *", "Europe/Berlin"},
		{"CRON_TZ=Europe/Berlin 30 2 * * *", "UTC"},
		{"TZ=America/New_York 0 9 * * 1-5", ""},
		{"TZ=America/New_York\t@daily", ""},
		{"TZ=UTC", ""},
		{"TZ=UTC TZ=Europe/Berlin 30 2 * * *", ""},
		{"CRON_TZ=Asia/Tokyo TZ=Local * * * * *", ""},
		{"TZ= * * * * *", ""},
		{"CRON_TZ=Local * * * * *", ""},
		{"* * * * *", "Local"},
		{"* * * * *", "utc"},
		{"* * * * *", "Etc/GMT+5"},
		{"* * * * *", "../../etc/passwd"},
		{"* * * * *", "/usr/share/zoneinfo/UTC"},
		{"", ""},
		{" ", ""},
		{"* * * *", ""},
		{"* * * * * * *", ""},
		{"0-0/1 0-0/1 1-1/1 1-1/1 *", ""},
	} {
		f.Add(s[0], s[1])
	}
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "spool.db"), sqlite.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, spec, zone string) {
		if len(spec) > 1024 || len(zone) > 256 {
			t.Skip("longer than any spec or zone name")
		}
		e, err := newEntry(q, Entry{Name: "fuzz", Spec: spec, TimeZone: zone, Job: queue.NewJob{Kind: "k"}}, fuzzStart)
		if err != nil {
			var ie *InvalidError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Add(%q, %q): %v is not an *InvalidError wrapping ErrInvalid", spec, zone, err)
			}
			if ie.Name != "fuzz" || (ie.Field != "Spec" && ie.Field != "TimeZone") {
				t.Fatalf("Add(%q, %q): %v names %q/%q; want the schedule and Spec or TimeZone", spec, zone, err, ie.Name, ie.Field)
			}
			return
		}
		want := nextFires(e, fuzzStart, 5)
		if len(want) == 0 {
			t.Fatalf("Add(%q, %q) accepted a spec with no fire time", spec, zone)
		}

		// Store the definition as a scheduler's round does, and read it
		// back.
		def := e.def()
		if err := store.SaveSchedule(ctx, nil, def, fuzzStart); err != nil {
			t.Fatalf("SaveSchedule(%+v): %v", def, err)
		}
		list, err := store.Schedules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Name != "fuzz" {
			t.Fatalf("stored schedules: %+v", list)
		}
		st := list[0]
		if st.Spec != def.Spec || st.TimeZone != def.TimeZone {
			t.Fatalf("stored %q in %q; saved %q in %q", st.Spec, st.TimeZone, def.Spec, def.TimeZone)
		}

		// A scheduler without the schedule registered (List) reads it so.
		_, gotZone, loc, sched, field, err := parseSpec(st.Spec, st.TimeZone)
		if err != nil {
			t.Fatalf("Add(%q, %q) stored spec %q in zone %q, which does not parse back: %s: %v", spec, zone, st.Spec, st.TimeZone, field, err)
		}
		if gotZone != e.zone || loc.String() != e.loc.String() {
			t.Fatalf("Add(%q, %q): zone %q; the stored spec %q in %q parses to zone %q", spec, zone, e.zone, st.Spec, st.TimeZone, gotZone)
		}
		back := &entry{sched: sched, loc: loc}
		if got := nextFires(back, fuzzStart, 5); !sameTimes(got, want) {
			t.Fatalf("Add(%q, %q) fires at %v; the stored spec %q in %q parses back to %v", spec, zone, want, st.Spec, st.TimeZone, got)
		}

		// A process registering the stored definition gets the same one
		// (its round sees no change to store).
		e2, err := newEntry(q, Entry{Name: "fuzz", Spec: st.Spec, TimeZone: st.TimeZone, Job: queue.NewJob{Kind: "k"}}, fuzzStart)
		if err != nil {
			t.Fatalf("the stored spec %q in %q is refused by Add: %v", st.Spec, st.TimeZone, err)
		}
		if !e2.sameDef(st) {
			t.Fatalf("registering the stored %q in %q stores %+v", st.Spec, st.TimeZone, e2.def())
		}
	})
}

func sameTimes(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) || a[i].Location().String() != b[i].Location().String() {
			return false
		}
	}
	return true
}
