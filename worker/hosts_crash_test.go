package worker_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spooljobs/spool/internal/childtest"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
	"github.com/spooljobs/spool/worker"
	"github.com/stretchr/testify/require"
)

const (
	hostsKind     = "hosts.work"
	hostsTickKind = "hosts.tick"
	hostsSchedule = "hosts.every-second"
	hostsWorkers  = 3
	hostsProds    = 2
	// hostsJobs is how many jobs each producer enqueues, one by one, a
	// little apart: the chaos phase lasts about as long as they take.
	hostsJobs      = 1200
	hostsPace      = 6 * time.Millisecond
	hostsKeys      = 6 // ordering keys, shared by the producers
	hostsMinKills  = 8
	hostsKillEvery = 1200 * time.Millisecond
)

// hostsArgs is a job's payload: the producer and its sequence number, and
// the job's ordering and unique keys ("" for none).
type hostsArgs struct {
	P    string `json:"p"`
	Seq  int    `json:"seq"`
	Key  string `json:"key,omitempty"`
	UKey string `json:"ukey,omitempty"`
}

// TestSeveralHostsUnderCrashes runs, against one PostgreSQL database,
// three worker processes and two producer processes, as several hosts
// would. The producers enqueue hostsJobs jobs each, one by one: a third
// of them under one of hostsKeys ordering keys the producers share, a
// quarter of the others with a unique key the producers share (and
// enqueue twice in a row). Every worker process runs a scheduler with the
// same schedule, "@every 1s". Meanwhile the parent kills a random process
// with SIGKILL every hostsKillEvery (at least hostsMinKills times, worker
// and producer processes both) and starts it again; then the producers
// finish, the schedulers stop, the workers drain the store and stop.
//
// Producers, handlers and the parent log to one file (O_APPEND writes, in
// the order they happened across processes): a producer "try" before an
// enqueue and "ack" once it returned, a handler "start" and "done" (a job)
// or "tick" and "tickdone" (a schedule's job) with the job's attempt. The
// checks:
//
//   - Nothing lost: the store ends empty (no live job, no dead one) and
//     every acknowledged job, and every job a handler started, has a
//     "done"; a "try" without its "ack" is in a producer run that was
//     killed.
//   - Each duplicate explained by a kill: every start of a job but its
//     last was in a worker run that was killed (its handler cut short, or
//     its acknowledgement lost), each start has a higher attempt than the
//     one before, and no run starts a job twice.
//   - Ordering keys respected across hosts: per key, the jobs (in ID
//     order) run one at a time, each only once the one before it finished
//     for good; a job acknowledged before another was tried has the lower
//     ID.
//   - Unique keys: a duplicate enqueue names a job of the same unique key;
//     two jobs of one unique key never lived at once.
//   - Each cron tick fired once: one job per tick, however many
//     schedulers ran and died, and it ran.
//
// The seed (logged; SPOOL_HOSTS_SEED replays the parent's choices) picks
// whom to kill and when.
func TestSeveralHostsUnderCrashes(t *testing.T) {
	t.Parallel()
	db := newPostgresCrashDB(t)
	began := time.Now()
	seed := testSeed(t, "SPOOL_HOSTS_SEED", "the kill choices")
	rng := rand.New(rand.NewPCG(seed, 0x4057))
	logPath := filepath.Join(t.TempDir(), "hosts.log")
	store := db.MustOpen(t, openOpts{})
	q, err := queue.New(store, queue.Options{})
	require.NoError(t, err)

	h := &hostsRun{t: t, db: db, logPath: logPath, incarnation: map[string]int{}, killed: map[string]bool{},
		children: map[string]*childtest.Child{}}
	for i := 1; i <= hostsWorkers; i++ {
		h.start(fmt.Sprintf("w%d", i))
	}
	for i := 1; i <= hostsProds; i++ {
		h.start(fmt.Sprintf("p%d", i))
	}

	kills := h.chaos(rng)
	h.killsDone = time.Now()
	for i := 1; i <= hostsProds; i++ {
		h.children[fmt.Sprintf("p%d", i)].Wait(30 * time.Second)
	}
	// The schedulers stop, then the workers drain the store: jobs held by
	// killed runs come back when their leases expire.
	for i := 1; i <= hostsWorkers; i++ {
		c := h.children[fmt.Sprintf("w%d", i)]
		c.Say("stop-cron")
		c.Expect("cron stopped", 30*time.Second)
	}
	childtest.WaitUntil(t, time.Minute, "the workers to drain the store", func() bool { return liveCount(t, q) == 0 }, h.list('w')...)
	for i := 1; i <= hostsWorkers; i++ {
		h.children[fmt.Sprintf("w%d", i)].Wait(30 * time.Second)
	}
	requireEmptyStore(t, q)

	lg := readHostsLog(t, logPath)
	st := checkHostsRuns(t, lg, h.killed)
	checkHostsKeys(t, lg, h.killed)
	uniq := checkHostsUnique(t, lg)
	ticks := checkHostsTicks(t, lg, h.killed)
	t.Logf("%d worker and %d producer processes on one PostgreSQL database, %d kills (%d of worker runs, %d of producer runs) "+
		"in %s: %d jobs enqueued (%d acknowledged; %d keyed on %d keys; %d unique keys, %d duplicate enqueues refused); "+
		"%d handler runs: %d jobs ran more than once (at most %d times), all explained by a kill: %d runs cut short by a kill, "+
		"%d finished but their acknowledgement lost to a kill; %d cron ticks, each enqueued once (%d tick jobs ran twice after a kill; %d gaps of missed ticks); "+
		"then drained in %s; %s in all",
		hostsWorkers, hostsProds, kills, h.killedOf('w'), h.killedOf('p'), h.killsDone.Sub(began).Round(time.Millisecond),
		st.jobs, st.acked, st.keyed, hostsKeys, uniq.keys, uniq.dups,
		st.starts, st.reran, st.maxStarts, st.interrupted, st.ackLost, ticks.ticks, ticks.reran, ticks.gaps,
		time.Since(h.killsDone).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	require.Positive(t, st.reran, "no job ran twice: the kills never interrupted work")
	require.Positive(t, h.killedOf('p'), "no producer was killed")
	require.GreaterOrEqual(t, ticks.ticks, 5, "too few cron ticks")
}

// hostsRun holds the processes of TestSeveralHostsUnderCrashes: the
// current run of each (w1…, p1…), and the runs killed.
type hostsRun struct {
	t           *testing.T
	db          crashDB
	logPath     string
	incarnation map[string]int
	children    map[string]*childtest.Child
	killed      map[string]bool // run names ("w2.1")
	killsDone   time.Time
}

// run is the name of the current run of process name.
func (h *hostsRun) run(name string) string { return fmt.Sprintf("%s.%d", name, h.incarnation[name]) }

// start starts the next run of process name and waits until it is ready.
func (h *hostsRun) start(name string) {
	h.t.Helper()
	role := "hostworker"
	if name[0] == 'p' {
		role = "hostproducer"
	}
	env := append(h.db.Env(), "SPOOL_TEST_LOG="+h.logPath, "SPOOL_TEST_RUN="+h.run(name), "SPOOL_TEST_NAME="+name)
	c := childtest.Start(h.t, role, env...)
	c.Expect("ready", 30*time.Second)
	h.children[name] = c
}

// kill kills the current run of process name.
func (h *hostsRun) kill(name string) {
	h.t.Helper()
	h.db.Kill(h.t, h.children[name])
	h.killed[h.run(name)] = true
	h.t.Logf("SIGKILL %s", h.run(name))
	h.incarnation[name]++
}

// chaos kills a random process every hostsKillEvery or so (the first kill
// a worker's, the second a producer's) and starts it again, until the
// producers are done and hostsMinKills kills happened. It returns how many
// it killed.
func (h *hostsRun) chaos(rng *rand.Rand) int {
	h.t.Helper()
	names := slices.Sorted(maps.Keys(h.children))
	kills := 0
	for kills < hostsMinKills || h.producersDone() < hostsProds {
		at := time.Now().Add(hostsKillEvery/2 + time.Duration(rng.Int64N(int64(hostsKillEvery))))
		childtest.WaitUntil(h.t, time.Minute, "the time of the next kill", func() bool { return time.Now().After(at) }, h.list(0)...)
		var name string
		switch {
		case kills == 0:
			name = fmt.Sprintf("w%d", 1+rng.IntN(hostsWorkers))
		case kills == 1 && h.producersDone() < hostsProds:
			name = fmt.Sprintf("p%d", 1+rng.IntN(hostsProds))
		default:
			name = names[rng.IntN(len(names))]
		}
		if name[0] == 'p' && h.producerDone(name) {
			continue // nothing left to interrupt
		}
		h.kill(name)
		kills++
		h.start(name)
	}
	return kills
}

// list returns the current runs of the workers ('w'), the producers ('p')
// or, with 0, of all.
func (h *hostsRun) list(kind byte) []*childtest.Child {
	var out []*childtest.Child
	for name, c := range h.children {
		if kind != 0 && name[0] != kind {
			continue
		}
		out = append(out, c)
	}
	return out
}

// killedOf counts the killed runs of workers ('w') or producers ('p').
func (h *hostsRun) killedOf(kind byte) int {
	n := 0
	for run := range h.killed {
		if run[0] == kind {
			n++
		}
	}
	return n
}

// producerDone reports whether producer name logged that it enqueued its
// last job.
func (h *hostsRun) producerDone(name string) bool {
	b, err := os.ReadFile(h.logPath)
	require.NoError(h.t, err)
	return strings.Contains(string(b), "\npdone "+name+"\n")
}

// producersDone counts the producers that are done.
func (h *hostsRun) producersDone() int {
	n := 0
	for i := 1; i <= hostsProds; i++ {
		if h.producerDone(fmt.Sprintf("p%d", i)) {
			n++
		}
	}
	return n
}

// liveCount counts the store's pending, scheduled, running and blocked
// jobs.
func liveCount(t *testing.T, q *queue.Queue) int {
	st, err := q.Inspector().Stats(t.Context())
	require.NoError(t, err)
	n := 0
	for _, qs := range st.Queues {
		n += qs.Pending + qs.Scheduled + qs.Running + qs.Blocked
	}
	return n
}

// hostsLine is one line of the hosts log.
type hostsLine struct {
	what, run string
	line      int
	id        int64
	attempt   int
	args      hostsArgs // try, ack, start, done
	dup       bool      // ack
	tick      string    // tick, tickdone
}

func (l hostsLine) String() string {
	return fmt.Sprintf("line %d: %s %s job %d attempt %d %+v%s", l.line, l.what, l.run, l.id, l.attempt, l.args, l.tick)
}

// readHostsLog parses the lines
//
//	try <run> <producer> <seq> <key|-> <ukey|->
//	ack <run> <producer> <seq> <key|-> <ukey|-> <jobID> <dup 0|1>
//	start|done <run> <producer> <seq> <key|-> <ukey|-> <jobID> <attempt>
//	tick|tickdone <run> <tick> <jobID> <attempt>
//	pdone <producer>
func readHostsLog(t *testing.T, path string) []hostsLine {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []hostsLine
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fl := strings.Fields(sc.Text())
		require.NotEmpty(t, fl, "log line %d", n)
		num := func(i int) int64 {
			require.Greater(t, len(fl), i, "log line %d: %q", n, sc.Text())
			v, err := strconv.ParseInt(fl[i], 10, 64)
			require.NoError(t, err, "log line %d: %q", n, sc.Text())
			return v
		}
		l := hostsLine{what: fl[0], line: n}
		switch fl[0] {
		case "pdone":
			continue
		case "tick", "tickdone":
			require.Len(t, fl, 5, "log line %d: %q", n, sc.Text())
			l.run, l.tick, l.id, l.attempt = fl[1], fl[2], num(3), int(num(4))
		case "try", "ack", "start", "done":
			want := map[string]int{"try": 6, "ack": 8, "start": 8, "done": 8}[fl[0]]
			require.Len(t, fl, want, "log line %d: %q", n, sc.Text())
			l.run = fl[1]
			l.args = hostsArgs{P: fl[2], Seq: int(num(3)), Key: strings.Trim(fl[4], "-"), UKey: strings.Trim(fl[5], "-")}
			if want == 8 {
				l.id = num(6)
				if fl[0] == "ack" {
					l.dup = fl[7] == "1"
				} else {
					l.attempt = int(num(7))
				}
			}
		default:
			t.Fatalf("log line %d: %q", n, sc.Text())
		}
		out = append(out, l)
	}
	require.NoError(t, sc.Err())
	return out
}

// hostsStats counts what checkHostsRuns saw.
type hostsStats struct {
	jobs, acked, keyed, starts, reran, maxStarts, interrupted, ackLost int
}

// checkHostsRuns checks that nothing was lost and that every duplicate run
// is explained by a kill (see TestSeveralHostsUnderCrashes).
func checkHostsRuns(t *testing.T, lg []hostsLine, killed map[string]bool) hostsStats {
	t.Helper()
	type tried struct {
		try   hostsLine
		acked bool
	}
	tries := map[string]*tried{} // "<producer> <seq>"
	argsOf := map[int64]hostsArgs{}
	starts := map[int64][]hostsLine{}
	dones := map[int64][]hostsLine{}
	var mustRun []hostsLine // acks of duplicate enqueues
	var st hostsStats
	for _, l := range lg {
		k := fmt.Sprintf("%s %d", l.args.P, l.args.Seq)
		switch l.what {
		case "try":
			require.Nil(t, tries[k], "%s: producer %s tried seq %d twice", l, l.args.P, l.args.Seq)
			tries[k] = &tried{try: l}
		case "ack":
			tr := tries[k]
			require.True(t, tr != nil && tr.try.run == l.run, "%s: no try before it", l)
			tr.acked = true
			if l.dup {
				mustRun = append(mustRun, l) // another enqueue's job: checkHostsUnique
				continue
			}
			st.acked++
			argsOf[l.id] = l.args
		case "start":
			starts[l.id] = append(starts[l.id], l)
		case "done":
			s := starts[l.id]
			require.True(t, len(s) > 0 && s[len(s)-1].run == l.run && s[len(s)-1].attempt == l.attempt,
				"%s ends no handler run of the job", l)
			dones[l.id] = append(dones[l.id], l)
		}
		if l.what == "start" || l.what == "done" {
			if a, ok := argsOf[l.id]; ok {
				require.Equal(t, a, l.args, "%s: the job's payload is not the one enqueued", l)
			}
			argsOf[l.id] = l.args
		}
	}
	for k, tr := range tries {
		if !tr.acked {
			require.True(t, killed[tr.try.run], "producer %s: seq %s tried, never acknowledged, in a run not killed", tr.try.run, k)
		}
	}
	for _, l := range mustRun {
		require.Contains(t, argsOf, l.id, "%s names a job that never ran: lost", l)
	}
	for id, args := range argsOf {
		st.jobs++
		if args.Key != "" {
			st.keyed++
		}
		checkJobRuns(t, id, args, starts[id], dones[id], killed, &st)
	}
	return st
}

// checkJobRuns checks the handler runs of one job: it completed, and each
// start but the last was in a killed run, with a higher attempt than the
// one before; it counts them in st.
func checkJobRuns(t *testing.T, id int64, args hostsArgs, s, d []hostsLine, killed map[string]bool, st *hostsStats) {
	t.Helper()
	require.NotEmpty(t, d, "job %d (%+v) never completed: lost (starts %v)", id, args, s)
	seen := map[string]bool{}
	for i, e := range s {
		require.False(t, seen[e.run], "job %d started twice in run %s: it ran again without a kill (%v)", id, e.run, s)
		seen[e.run] = true
		if i > 0 {
			require.Greater(t, e.attempt, s[i-1].attempt, "job %d: %s after %s", id, e, s[i-1])
		}
		if i < len(s)-1 {
			require.True(t, killed[e.run], "job %d ran again after run %s, which was not killed (%v)", id, e.run, s)
			if slices.ContainsFunc(d, func(x hostsLine) bool { return x.run == e.run }) {
				st.ackLost++
			} else {
				st.interrupted++
			}
		}
	}
	require.Equal(t, s[len(s)-1].run, d[len(d)-1].run, "job %d: its last start never finished (%v; %v)", id, s, d)
	st.starts += len(s)
	if len(s) > 1 {
		st.reran++
	}
	st.maxStarts = max(st.maxStarts, len(s))
}

// checkHostsKeys checks, per ordering key, that the key's jobs (in ID
// order) ran one at a time, each starting only after the previous one's
// last run finished, and that a job acknowledged before another was tried
// has the lower ID.
func checkHostsKeys(t *testing.T, lg []hostsLine, killed map[string]bool) {
	t.Helper()
	ids := map[string][]int64{}
	byKey := map[string][]hostsLine{}
	for _, l := range lg {
		if l.args.Key == "" {
			continue
		}
		if l.what == "start" || l.what == "done" {
			if !slices.Contains(ids[l.args.Key], l.id) {
				ids[l.args.Key] = append(ids[l.args.Key], l.id)
			}
			byKey[l.args.Key] = append(byKey[l.args.Key], l)
		}
	}
	checkHostsRealTime(t, lg)
	for key, list := range ids {
		slices.Sort(list)
		head, headDone := 0, false
		var open *hostsLine
		var lastEnd hostsLine
		evs := byKey[key]
		for i := range evs {
			e := evs[i]
			pos := slices.Index(list, e.id)
			switch e.what {
			case "start":
				if open != nil {
					require.True(t, killed[open.run] && open.run != e.run,
						"key %s: two handler runs at once (%s still running when %s)", key, open, e)
				}
				switch {
				case pos == head && !headDone:
				case pos == head && headDone:
					require.True(t, killed[lastEnd.run] && lastEnd.run != e.run,
						"key %s: job %d ran again after it finished (%s) without a kill: %s", key, e.id, lastEnd, e)
				case pos == head+1 && headDone && open == nil:
					head++
				default:
					require.Failf(t, "out of order", "key %s: %s while job %d was the head (finished=%v); the key's jobs: %v",
						key, e, list[head], headDone, list)
				}
				headDone = false
				open = &evs[i]
			case "done":
				require.True(t, open != nil && open.id == e.id && open.run == e.run, "key %s: %s ends no open run", key, e)
				open, lastEnd, headDone = nil, e, true
			}
		}
		require.True(t, open == nil && headDone && head == len(list)-1, "key %s: ends at job %d of %v (done=%v)", key, list[head], list, headDone)
	}
}

// checkHostsRealTime checks that, per ordering key, a job acknowledged
// before another job's enqueue was tried has the lower ID: the key's order
// is the order in which enqueues took effect, across processes.
func checkHostsRealTime(t *testing.T, lg []hostsLine) {
	t.Helper()
	maxAcked := map[string]hostsLine{} // key → the acked job with the highest ID so far
	floor := map[string]hostsLine{}    // "<producer> <seq>" → maxAcked of its key at its try
	for _, l := range lg {
		if l.args.Key == "" {
			continue
		}
		k := fmt.Sprintf("%s %d", l.args.P, l.args.Seq)
		switch l.what {
		case "try":
			if m, ok := maxAcked[l.args.Key]; ok {
				floor[k] = m
			}
		case "ack":
			if f, ok := floor[k]; ok {
				require.Greater(t, l.id, f.id, "key %s: %s was tried after %s was acknowledged, but got a lower ID", l.args.Key, l, f)
			}
			if m, ok := maxAcked[l.args.Key]; !ok || l.id > m.id {
				maxAcked[l.args.Key] = l
			}
		}
	}
}

// hostsUnique counts the unique keys and the enqueues refused as
// duplicates.
type hostsUnique struct{ keys, dups int }

// checkHostsUnique checks that a duplicate enqueue names a job of the same
// unique key, and that two jobs of one unique key never lived at once: a
// job's last "done" (before its deletion) comes before the acknowledgement
// of the next job of its key (after its insertion).
func checkHostsUnique(t *testing.T, lg []hostsLine) hostsUnique {
	t.Helper()
	ukeyOf := map[int64]string{} // from the jobs' payloads
	lastDone := map[int64]int{}
	for _, l := range lg {
		if (l.what == "start" || l.what == "done") && l.args.UKey != "" {
			ukeyOf[l.id] = l.args.UKey
		}
		if l.what == "done" && l.args.UKey != "" {
			lastDone[l.id] = l.line
		}
	}
	inserted := map[int64]bool{}
	var u hostsUnique
	jobsOf := map[string][]hostsLine{} // unique key → the acks that inserted a job
	for _, l := range lg {
		if l.what != "ack" || l.args.UKey == "" {
			continue
		}
		if l.dup {
			u.dups++
			k, ok := ukeyOf[l.id]
			require.True(t, ok && k == l.args.UKey, "%s: a duplicate of job %d, which has unique key %q", l, l.id, k)
			continue
		}
		require.False(t, inserted[l.id], "%s: job %d inserted twice", l, l.id)
		inserted[l.id] = true
		if prev := jobsOf[l.args.UKey]; len(prev) > 0 {
			p := prev[len(prev)-1]
			require.Less(t, lastDone[p.id], l.line, "unique key %s: job %d (%s) inserted while job %d lived", l.args.UKey, l.id, l, p.id)
		}
		jobsOf[l.args.UKey] = append(jobsOf[l.args.UKey], l)
	}
	u.keys = len(jobsOf)
	return u
}

// hostsTicks counts the cron ticks, the tick jobs that ran twice, and the
// gaps between ticks (a scheduler round came more than a second late: the
// catch-up policy enqueues the latest tick missed).
type hostsTicks struct{ ticks, reran, gaps int }

// checkHostsTicks checks that each tick has one job, and that it ran to
// the end (a second run only after a kill).
func checkHostsTicks(t *testing.T, lg []hostsLine, killed map[string]bool) hostsTicks {
	t.Helper()
	jobOf := map[string]int64{}
	runs := map[int64][]hostsLine{}
	done := map[int64]bool{}
	for _, l := range lg {
		switch l.what {
		case "tick":
			if id, ok := jobOf[l.tick]; ok {
				require.Equal(t, id, l.id, "tick %s enqueued twice: jobs %d and %d", l.tick, id, l.id)
			}
			jobOf[l.tick] = l.id
			runs[l.id] = append(runs[l.id], l)
		case "tickdone":
			done[l.id] = true
		}
	}
	var tk hostsTicks
	for tick, id := range jobOf {
		require.True(t, done[id], "tick %s: job %d never finished", tick, id)
		r := runs[id]
		for _, e := range r[:len(r)-1] {
			require.True(t, killed[e.run], "tick %s: job %d ran again after run %s, which was not killed", tick, id, e.run)
		}
		if len(r) > 1 {
			tk.reran++
		}
	}
	tk.ticks = len(jobOf)
	var times []time.Time
	for tick := range jobOf {
		at, err := time.Parse(time.RFC3339, tick)
		require.NoError(t, err, "tick %q", tick)
		times = append(times, at)
	}
	slices.SortFunc(times, time.Time.Compare)
	for i := 1; i < len(times); i++ {
		if times[i].Sub(times[i-1]) > time.Second {
			tk.gaps++
		}
	}
	return tk
}

// hostsLog opens the shared log for appending: each line one write(2),
// complete in the file once it returned, whenever SIGKILL comes.
func hostsLog() (*os.File, error) {
	return os.OpenFile(os.Getenv("SPOOL_TEST_LOG"), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
}

// dash writes an empty key as "-".
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// hostProducerChild is a producer process of TestSeveralHostsUnderCrashes.
// It goes on after the last seq its earlier runs tried, enqueues up to
// hostsJobs jobs one by one (logging "try" and "ack"), logs "pdone" and
// waits until its stdin closes.
func hostProducerChild() error {
	name, run := os.Getenv("SPOOL_TEST_NAME"), os.Getenv("SPOOL_TEST_RUN")
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := crashDBFromEnv().Open(ctx, openOpts{Logger: logger})
	if err != nil {
		return err
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{Logger: logger})
	if err != nil {
		return err
	}
	next, err := nextHostsSeq(name)
	if err != nil {
		return err
	}
	logFile, err := hostsLog()
	if err != nil {
		return err
	}
	defer logFile.Close()
	childtest.Say("ready")
	for seq := next; seq < hostsJobs; seq++ {
		a := hostsArgs{P: name, Seq: seq}
		switch {
		case seq%3 == 0:
			a.Key = fmt.Sprintf("k%d", (seq/3)%hostsKeys)
		case seq%4 == 1:
			a.UKey = fmt.Sprintf("u%d", seq) // the other producer's seq collides
		}
		fields := fmt.Sprintf("%s %s %d %s %s", run, name, seq, dash(a.Key), dash(a.UKey))
		if _, err := fmt.Fprintf(logFile, "try %s\n", fields); err != nil {
			return err
		}
		job := queue.NewJob{Kind: hostsKind, Args: a, OrderKey: a.Key, UniqueKey: a.UKey, MaxAttempts: 1000}
		times := 1
		if a.UKey != "" {
			times = 2 // the second is a duplicate, unless the first already ran
		}
		for range times {
			res, err := q.Enqueue(ctx, job)
			if err != nil {
				return fmt.Errorf("enqueue %s: %w", fields, err)
			}
			dup := 0
			if res.Duplicate {
				dup = 1
			}
			if _, err := fmt.Fprintf(logFile, "ack %s %d %d\n", fields, res.ID, dup); err != nil {
				return err
			}
		}
		time.Sleep(hostsPace)
	}
	if _, err := fmt.Fprintf(logFile, "pdone %s\n", name); err != nil {
		return err
	}
	return childtest.AwaitClose()
}

// nextHostsSeq returns the seq after the last one producer name tried.
func nextHostsSeq(name string) (int, error) {
	b, err := os.ReadFile(os.Getenv("SPOOL_TEST_LOG"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	next := 0
	for line := range strings.Lines(string(b)) {
		fl := strings.Fields(line)
		if len(fl) == 6 && fl[0] == "try" && fl[2] == name {
			seq, err := strconv.Atoi(fl[3])
			if err != nil {
				return 0, err
			}
			next = max(next, seq+1)
		}
	}
	return next, nil
}

// hostWorkerChild is a worker process of TestSeveralHostsUnderCrashes: a
// pool that handles the jobs and the schedule's jobs, logging each handler
// run, and a scheduler with the "@every 1s" schedule. It says "ready",
// stops its scheduler when told "stop-cron", and stops its pool when its
// stdin closes.
func hostWorkerChild() error {
	run := os.Getenv("SPOOL_TEST_RUN")
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := crashDBFromEnv().Open(ctx, openOpts{Logger: logger})
	if err != nil {
		return err
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{Logger: logger})
	if err != nil {
		return err
	}
	logFile, err := hostsLog()
	if err != nil {
		return err
	}
	defer logFile.Close()
	pool, err := worker.New(q, worker.Options{
		Queues:              map[string]worker.QueueConfig{queue.DefaultQueue: {MaxWorkers: 8}},
		LeaseDuration:       2 * time.Second,
		HeartbeatInterval:   500 * time.Millisecond,
		MaintenanceInterval: 200 * time.Millisecond,
		PollInterval:        100 * time.Millisecond,
		Backoff:             queue.Constant(10 * time.Millisecond),
		Logger:              logger,
	})
	if err != nil {
		return err
	}
	handleHostsJobs(pool, logFile, run)
	sched, err := schedule.New(q, schedule.Options{Logger: logger})
	if err != nil {
		return err
	}
	if err := sched.Add(schedule.Entry{Name: hostsSchedule, Spec: "@every 1s",
		Job: queue.NewJob{Kind: hostsTickKind, MaxAttempts: 1000}}); err != nil {
		return err
	}
	if err := pool.Start(ctx); err != nil {
		return err
	}
	if err := sched.Start(ctx); err != nil {
		return err
	}
	childtest.Say("ready")
	for {
		line, err := childtest.ReadLine()
		if err != nil {
			break
		}
		if line == "stop-cron" {
			if err := sched.Stop(ctx); err != nil {
				return fmt.Errorf("stop the scheduler: %w", err)
			}
			childtest.Say("cron stopped")
		}
	}
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return pool.Stop(stopCtx)
}

// handleHostsJobs registers the handlers of the worker processes of
// TestSeveralHostsUnderCrashes, which log each run's start and end.
func handleHostsJobs(pool *worker.Pool, logFile *os.File, run string) {
	pool.Handle(hostsKind, worker.JSON(func(ctx context.Context, job *queue.Job, a hostsArgs) error {
		fields := fmt.Sprintf("%s %s %d %s %s %d %d", run, a.P, a.Seq, dash(a.Key), dash(a.UKey), job.ID, job.Attempt)
		if _, err := fmt.Fprintf(logFile, "start %s\n", fields); err != nil {
			return err
		}
		// Some work: a few jobs are in flight in every process when a kill
		// comes.
		if err := work(ctx, 10*time.Millisecond+rand.N(40*time.Millisecond)); err != nil {
			return err
		}
		_, err := fmt.Fprintf(logFile, "done %s\n", fields)
		return err
	}))
	pool.HandleFunc(hostsTickKind, func(ctx context.Context, job *queue.Job) error {
		fields := fmt.Sprintf("%s %s %d %d", run, job.Metadata[schedule.MetadataTick], job.ID, job.Attempt)
		if _, err := fmt.Fprintf(logFile, "tick %s\n", fields); err != nil {
			return err
		}
		if err := work(ctx, rand.N(3*time.Millisecond)); err != nil {
			return err
		}
		_, err := fmt.Fprintf(logFile, "tickdone %s\n", fields)
		return err
	})
}

// work stands for a handler's work taking d: it ends early, with the
// context's error, when the pool cancels the handler.
func work(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
