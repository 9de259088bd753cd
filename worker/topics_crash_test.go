package worker_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spooljobs/spool/internal/childtest"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/worker"
	"github.com/stretchr/testify/require"
)

const (
	topicName   = "orders.created"
	topicOrders = 50
	// Phase 1 publishes topicOrders × topicPerOrder1 events before "late"
	// subscribes: more than the 1000 backlog events Subscribe delivers
	// itself, so worker pools' maintenance must deliver the rest.
	topicPerOrder1 = 21
	// Phase 2 publishes topicOrders × topicPerOrder2 more while workers
	// run and "late" catches up: a round during run k1, two during k2, one
	// during k3.
	topicPerOrder2   = 4
	topicEvents1     = topicOrders * topicPerOrder1
	topicEvents      = topicOrders * (topicPerOrder1 + topicPerOrder2)
	topicFirstStep   = 1000 // the backlog q.Subscribe delivers itself
	topicFailPct     = 10
	topicReplayLen   = 150
	topicRetain      = 150
	topicMaxAttempts = 1000
)

// topicArgs is an event's payload.
type topicArgs struct {
	Order int `json:"order"`
	N     int `json:"n"`
}

// topicEvent is one published event as the parent recorded it.
type topicEvent struct {
	id, seq  int64
	order, n int
	phase    int
	jobs     int // PublishResult.Jobs: the subscriptions Publish delivered it to
}

func topicKey(order int) string { return fmt.Sprintf("order:%d", order) }

// stream names one subscription's ordered stream of one key: the
// OrderKey of its delivery jobs.
func (e *topicEvent) stream(sub string) string { return sub + ":" + topicKey(e.order) }

// TestTopicsAcrossCrashes proves the event log across restarts and SIGKILL:
//
//   - Phase 1: subscription "live" (orders.#, from now); topicEvents1
//     events to orders.created with OrderKey "order:N" (order N's n-th event
//     has payload {N, n}), the first in outbox transactions of random size
//     (one more, rolled back, leaves no event, job or gap), the rest one by
//     one. The store is closed (a restart).
//   - Phase 2: the parent reopens and subscribes "late" from the
//     beginning; Subscribe delivers the first 1000 backlog events itself,
//     the rest is left to worker pools' maintenance. Worker processes
//     (handlers fail at random, topicFailPct) are killed with SIGKILL three
//     times while the parent publishes topicPerOrder2 more rounds of one
//     event per order: one as run k1 starts, whose maintenance never runs
//     so that "late" is certain to still be behind when it is killed
//     (checked in the store after the kill: its cursor has not moved and
//     its backlog is the rest of phase 1 plus that round); two during run
//     k2, the second once k2's pool runs, racing with the backlog delivery
//     of its maintenance (the parent waits until "late" has caught up); one
//     during run k3, when Publish delivers to "late" directly. A last run
//     finishes. A publish reaches "late" directly (Jobs == 2) only once it
//     has caught up, and from then on always.
//   - After each kill the store agrees with the log (topicSnapshot); at the
//     end the store is empty, both subscriptions are caught up with no lag,
//     and per subscription and key the log shows the key's events handled
//     one at a time, in log order, moving on only after a success, each
//     event by one job, re-run only after a failure or a kill
//     (checkTopicStreams); "late" handled every phase-1 event of a key
//     before it started any phase-2 event of the key.
//   - Replay, after a restart: Replay("late", seqs a..b) makes b-a+1 jobs
//     for "late" only (a second Replay of the range makes none while they
//     live); a run killed mid-way and a last run handle exactly those
//     events, in order per key, for "late" only.
//   - Retention, after another restart: MaxEvents topicRetain, PruneEvents:
//     Topics and Events show exactly the newest topicRetain events, after
//     one more restart too; a new subscription from the beginning gets
//     exactly those, and a worker handles them in order per key.
//
// The seed (logged; SPOOL_TOPICS_SEED replays it) drives the publish
// order, transaction sizes, kill points, the replay range and the
// children's failures; thread timing varies between runs. It runs on
// SQLite and on PostgreSQL.
func TestTopicsAcrossCrashes(t *testing.T) {
	t.Parallel()
	onBothBackends(t, "topics.db", testTopicsAcrossCrashes)
}

func testTopicsAcrossCrashes(t *testing.T, db crashDB) {
	began := time.Now()
	seed := testSeed(t, "SPOOL_TOPICS_SEED", "the publish order, kill points, replay range and failure draws")
	rng := rand.New(rand.NewPCG(seed, 0x70b1c))

	ctx := t.Context()
	dir := t.TempDir()
	mainLog := filepath.Join(dir, "main.log")
	replayLog := filepath.Join(dir, "replay.log")
	freshLog := filepath.Join(dir, "fresh.log")
	mainLines, replayLines := &lineCounter{path: mainLog}, &lineCounter{path: replayLog}
	// The children's warnings (lost leases, rescues, failed settles) go to
	// <log>.warn; shown when the test fails.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, path := range []string{mainLog, replayLog, freshLog} {
			b, err := os.ReadFile(path + ".warn")
			if err != nil {
				continue
			}
			var keep []string
			for _, l := range strings.Split(string(b), "\n") {
				if l != "" && !strings.Contains(l, "downstream hiccup") {
					keep = append(keep, l)
				}
			}
			t.Logf("%s.warn, without the handlers' failures (%d lines):\n%s", filepath.Base(path), len(keep),
				strings.Join(keep[max(0, len(keep)-60):], "\n"))
		}
	})

	open := func() (crashStore, *queue.Queue) {
		t.Helper()
		// A publish from this process waits for the write lock while a
		// busy worker process commits back to back; SQLite's busy handler
		// polls at growing intervals (up to 100ms) and can miss the gaps
		// for seconds (see the latencies logged).
		store := db.MustOpen(t, openOpts{BusyTimeout: 30 * time.Second})
		q, err := queue.New(store, queue.Options{})
		require.NoError(t, err)
		return store, q
	}
	var evs []*topicEvent // in publish order, which is ID order
	byID := map[int64]*topicEvent{}
	nextN := make([]int, topicOrders)
	event := func(order, n, phase int) queue.Event {
		return queue.Event{Topic: topicName, OrderKey: topicKey(order), Args: topicArgs{Order: order, N: n},
			Metadata: map[string]string{"phase": strconv.Itoa(phase)}}
	}
	record := func(order, phase int, res queue.PublishResult) *topicEvent {
		e := &topicEvent{id: res.EventID, seq: res.Seq, order: order, n: nextN[order], phase: phase, jobs: res.Jobs}
		nextN[order]++
		require.Nil(t, byID[e.id], "event ID %d published twice", e.id)
		evs = append(evs, e)
		byID[e.id] = e
		return e
	}

	// Phase 1: "live" from now; the phase-1 events in outbox transactions.
	store, q := open()
	require.NoError(t, q.Topics().Subscribe(ctx, queue.Subscription{Name: "live", Pattern: "orders.#", Kind: "orders.live",
		MaxAttempts: topicMaxAttempts}))
	var p1 []int // orders, round by round, a random order of keys each round
	for range topicPerOrder1 {
		p1 = append(p1, rng.Perm(topicOrders)...)
	}
	// The first few hundred in outbox transactions of random size (under
	// -race, PublishTx in a caller's transaction costs twice a Publish: it
	// prepares its statements anew), with one more, rolled back, among
	// them: it must leave no event, no job and no gap in the sequence (its
	// payload N = -1 would fail the log check, were it ever delivered). The
	// rest one by one.
	for txs := 0; txs < 6; txs++ {
		if txs == 3 {
			tx, err := store.DB().BeginTx(ctx, nil)
			require.NoError(t, err)
			for o := range 5 {
				_, err := q.PublishTx(ctx, tx, queue.Event{Topic: topicName, OrderKey: topicKey(o), Args: topicArgs{Order: o, N: -1}})
				require.NoError(t, err)
			}
			require.NoError(t, tx.Rollback())
		}
		n := 1 + rng.IntN(100)
		tx, err := store.DB().BeginTx(ctx, nil)
		require.NoError(t, err)
		var results []queue.PublishResult
		for i, o := range p1[:n] {
			// record counts n on after the commit
			res, err := q.PublishTx(ctx, tx, event(o, nextN[o]+countInts(p1[:i], o), 1))
			require.NoError(t, err)
			require.Equal(t, 1, res.Jobs, "a phase-1 event reaches only live")
			results = append(results, res)
		}
		require.NoError(t, tx.Commit())
		for i, o := range p1[:n] {
			record(o, 1, results[i])
		}
		p1 = p1[n:]
	}
	outboxed := len(evs)
	for _, o := range p1 {
		res, err := q.Publish(ctx, event(o, nextN[o], 1))
		require.NoError(t, err)
		require.Equal(t, 1, res.Jobs, "a phase-1 event reaches only live")
		record(o, 1, res)
	}
	requireContiguous(t, evs)
	topics, err := q.Topics().List(ctx)
	require.NoError(t, err)
	require.Len(t, topics, 1)
	require.Equal(t, queue.TopicInfo{Name: topicName, LastSeq: topicEvents1, FirstSeq: 1, Events: topicEvents1}, topics[0])
	subs := subsByName(t, q)
	require.Equal(t, evs[len(evs)-1].id, subs["live"].Cursor)
	require.Equal(t, topicEvents1, subs["live"].Lag)
	require.NoError(t, store.Close())
	t.Logf("phase 1: published %d events (%d of them in 6 outbox transactions; live: %d jobs) in %s",
		len(evs), outboxed, topicEvents1, time.Since(began).Round(time.Millisecond))

	// Phase 2, after a restart: "late" from the beginning.
	store, q = open()
	require.NoError(t, q.Topics().Subscribe(ctx, queue.Subscription{Name: "late", Pattern: "orders.#", Kind: "orders.late",
		MaxAttempts: topicMaxAttempts, From: queue.StartAt{Beginning: true}}))
	subs = subsByName(t, q)
	bySubscribe := int(subs["late"].Cursor - evs[0].id + 1)
	require.Equal(t, topicFirstStep, bySubscribe, "Subscribe delivers the first backlog step itself")
	require.Equal(t, topicEvents1-topicFirstStep, subs["late"].Backlog)
	require.Equal(t, topicFirstStep, subs["late"].Lag)
	require.Zero(t, subs["live"].Backlog)
	lateCursorAtSubscribe := subs["late"].Cursor
	require.NoError(t, store.Close())

	// The crash runs. The parent publishes phase 2 while workers run.
	store, q = open()
	env := func(logPath, run string, maint time.Duration, final bool) []string {
		e := append(db.Env(), "SPOOL_TEST_LOG="+logPath, "SPOOL_TEST_RUN="+run,
			"SPOOL_TEST_SEED="+strconv.FormatUint(seed, 10), "SPOOL_TEST_MAINT="+maint.String())
		if final {
			e = append(e, "SPOOL_TEST_FINAL=1")
		}
		return e
	}
	caughtUp := false          // a phase-2 publish reached "late" directly
	behind := 0                // phase-2 events published while "late" was behind
	var pubLat []time.Duration // of the phase-2 publishes, made while a worker process runs
	publish2 := func(rounds int) {
		for range rounds {
			for _, o := range rng.Perm(topicOrders) {
				pubStart := time.Now()
				res, err := q.Publish(ctx, event(o, nextN[o], 2))
				require.NoError(t, err)
				pubLat = append(pubLat, time.Since(pubStart))
				e := record(o, 2, res)
				switch res.Jobs {
				case 1:
					require.False(t, caughtUp, "event %d (seq %d) reached only live, after late had caught up", e.id, e.seq)
					behind++
				case 2:
					caughtUp = true
				default:
					require.Failf(t, "publish", "event %d (seq %d) reached %d subscriptions", e.id, e.seq, res.Jobs)
				}
			}
		}
	}
	mainDelivered := func() map[string][]int64 {
		subs := subsByName(t, q)
		return deliveredStreams(evs, map[string]int64{"live": subs["live"].Cursor, "late": subs["late"].Cursor})
	}
	killed := map[string]bool{}
	kill := func(c *childtest.Child, run string, start time.Time, base int) {
		// Every delivered job writes at least a start and a done, so the
		// log reaches 2*delivered lines: the target is always reached.
		delivered := 0
		for _, ids := range mainDelivered() {
			delivered += len(ids)
		}
		target := min(mainLines.count(t)+100+rng.IntN(300), 2*delivered-100)
		childtest.WaitUntil(t, 30*time.Second, fmt.Sprintf("run %s to write log line %d", run, target),
			func() bool { return mainLines.count(t) >= target }, c)
		db.Kill(t, c)
		killed[run] = true
		subs := subsByName(t, q)
		t.Logf("run %s: SIGKILL after %s at log line %d (run started at line %d); late: cursor %d, backlog %d, lag %d",
			run, time.Since(start).Round(time.Millisecond), mainLines.count(t), base,
			subs["late"].Cursor, subs["late"].Backlog, subs["late"].Lag)
		topicSnapshot(t, q, mainLog, byID, mainDelivered(), "run "+run)
	}

	// k1: its maintenance never runs, so "late" stays behind; the first
	// phase-2 round joins its backlog, published as the run starts work.
	start, base := time.Now(), mainLines.count(t)
	c := childtest.Start(t, "topicscrash", env(mainLog, "k1", time.Hour, false)...)
	publish2(1)
	require.False(t, caughtUp)
	kill(c, "k1", start, base)
	subs = subsByName(t, q)
	require.Equal(t, lateCursorAtSubscribe, subs["late"].Cursor, "nothing but maintenance delivers late's backlog")
	require.Equal(t, topicEvents1-topicFirstStep+topicOrders, subs["late"].Backlog, "killed while late had this backlog")

	// k2: its maintenance delivers the backlog while two more rounds
	// arrive, the second once its pool runs: the pool's first maintenance
	// tick comes 100ms after it started, while the round is published.
	start, base = time.Now(), mainLines.count(t)
	c = childtest.Start(t, "topicscrash", env(mainLog, "k2", 100*time.Millisecond, false)...)
	publish2(1)
	c.Expect("ready", 30*time.Second)
	publish2(1)
	childtest.WaitUntil(t, 30*time.Second, "late to catch up", func() bool { return subsByName(t, q)["late"].Backlog == 0 }, c)
	kill(c, "k2", start, base)

	// k3: late is caught up: Publish delivers to it directly.
	start, base = time.Now(), mainLines.count(t)
	c = childtest.Start(t, "topicscrash", env(mainLog, "k3", 100*time.Millisecond, false)...)
	c.Expect("ready", 30*time.Second)
	publish2(topicPerOrder2 - 3)
	require.True(t, caughtUp, "late never caught up")
	kill(c, "k3", start, base)
	require.Len(t, evs, topicEvents)
	requireContiguous(t, evs)

	start = time.Now()
	final := childtest.Start(t, "topicscrash", env(mainLog, finalRun, 100*time.Millisecond, true)...)
	final.Wait(60 * time.Second)
	t.Logf("run %s: finished the rest in %s", finalRun, time.Since(start).Round(time.Millisecond))

	requireEmptyStore(t, q)
	subs = subsByName(t, q)
	for _, name := range []string{"live", "late"} {
		require.Equal(t, evs[len(evs)-1].id, subs[name].Cursor, "subscription %s", name)
		require.Zero(t, subs[name].Backlog, "subscription %s", name)
		require.Zero(t, subs[name].Lag, "subscription %s", name)
	}
	lines := readTopicLog(t, mainLog, byID)
	expected := deliveredStreams(evs, map[string]int64{"live": evs[len(evs)-1].id, "late": evs[len(evs)-1].id})
	st := checkTopicStreams(t, lines, expected, killed, leaseLostJobs(t, mainLog))
	checkBacklogFirst(t, lines)
	byMaintenance := topicEvents1 - topicFirstStep + behind
	slices.Sort(pubLat)
	t.Logf("the %d phase-2 publishes, next to a worker process: latency p50 %s, p90 %s, p99 %s, max %s", len(pubLat),
		pubLat[len(pubLat)/2], pubLat[len(pubLat)*9/10], pubLat[len(pubLat)*99/100], pubLat[len(pubLat)-1])
	t.Logf("main: %d events × 2 subscriptions, %d kills: %d handler runs (%d failed and ran again, %d cut short by a kill, "+
		"%d finished but their acknowledgement lost to a kill: %d events handled more than once); "+
		"late's backlog: %d events delivered by Subscribe, %d by pool maintenance (%d of them published during the runs), "+
		"%d delivered directly by Publish; %s so far",
		topicEvents, len(killed), st.starts, st.failed, st.interrupted, st.ackLost, st.dupEvents,
		bySubscribe, byMaintenance, behind, topicEvents-bySubscribe-byMaintenance, time.Since(began).Round(time.Millisecond))
	require.Positive(t, st.failed, "no handler failed: retries were not exercised")
	require.Positive(t, st.interrupted+st.ackLost, "no kill hit a handler run: the test proved nothing about crashes")
	if warn, err := os.ReadFile(mainLog + ".warn"); err == nil {
		t.Logf("the workers' warnings: %d rescued jobs with expired leases, %d results dropped for a lost lease, %d failed settles",
			strings.Count(string(warn), "rescued job with expired lease"),
			strings.Count(string(warn), "lost lease before settling")+strings.Count(string(warn), "after losing its lease"),
			strings.Count(string(warn), "settle failed"))
	}
	require.NoError(t, store.Close())

	// Replay, after a restart: a range of seqs to "late" only.
	began2 := time.Now()
	store, q = open()
	a := int64(topicEvents1 - topicReplayLen/2 - rng.IntN(50)) // across the phases
	b := a + topicReplayLen - 1
	n, err := q.Topics().Replay(ctx, "late", queue.EventFilter{Topic: topicName, FromSeq: a, ToSeq: b})
	require.NoError(t, err)
	require.Equal(t, topicReplayLen, n, "Replay of seqs %d..%d", a, b)
	n, err = q.Topics().Replay(ctx, "late", queue.EventFilter{Topic: topicName, FromSeq: a, ToSeq: b})
	require.NoError(t, err)
	require.Zero(t, n, "a second Replay of the range while its jobs live")
	var ranged []*topicEvent
	for _, e := range evs {
		if e.seq >= a && e.seq <= b {
			ranged = append(ranged, e)
		}
	}
	replayed := deliveredStreams(ranged, map[string]int64{"late": evs[len(evs)-1].id})
	requireDeliveries(t, q, byID, replayed, "the replay")
	subs = subsByName(t, q)
	require.Zero(t, subs["live"].Lag+subs["live"].Backlog, "live gets nothing from a replay to late")
	require.Equal(t, topicReplayLen, subs["late"].Lag)
	require.Zero(t, subs["late"].Backlog)

	start, base = time.Now(), 0
	c = childtest.Start(t, "topicscrash", env(replayLog, "r1", 100*time.Millisecond, false)...)
	target := 20 + rng.IntN(150)
	childtest.WaitUntil(t, 30*time.Second, fmt.Sprintf("run r1 to write log line %d", target),
		func() bool { return replayLines.count(t) >= target }, c)
	db.Kill(t, c)
	t.Logf("replay run r1: SIGKILL after %s at log line %d", time.Since(start).Round(time.Millisecond), replayLines.count(t))
	topicSnapshot(t, q, replayLog, byID, replayed, "replay run r1")
	final = childtest.Start(t, "topicscrash", env(replayLog, "rfinal", 100*time.Millisecond, true)...)
	final.Wait(60 * time.Second)
	requireEmptyStore(t, q)
	rst := checkTopicStreams(t, readTopicLog(t, replayLog, byID), replayed, map[string]bool{"r1": true}, leaseLostJobs(t, replayLog))
	t.Logf("replay of seqs %d..%d to late: %d jobs, 1 kill: %d handler runs (%d failed, %d cut short by a kill, %d acknowledgements lost); %s",
		a, b, topicReplayLen, rst.starts, rst.failed, rst.interrupted, rst.ackLost, time.Since(began2).Round(time.Millisecond))
	require.NoError(t, store.Close())

	// Retention, after a restart: keep the newest topicRetain events.
	began3 := time.Now()
	store, q = open()
	require.NoError(t, q.Topics().SetRetention(ctx, topicName, queue.Retention{MaxEvents: topicRetain}))
	topics, err = q.Topics().List(ctx)
	require.NoError(t, err)
	require.Equal(t, []queue.TopicInfo{{Name: topicName, LastSeq: topicEvents, FirstSeq: 1, Events: topicEvents,
		Retention: queue.Retention{MaxEvents: topicRetain}}}, topics, "SetRetention prunes nothing itself")
	pruned := 0
	for {
		n, err := q.Topics().PruneEvents(ctx, 1000)
		require.NoError(t, err)
		if n == 0 {
			break
		}
		pruned += n
	}
	require.Equal(t, topicEvents-topicRetain, pruned)
	kept := evs[topicEvents-topicRetain:]
	checkRetained := func(q *queue.Queue) {
		t.Helper()
		topics, err := q.Topics().List(ctx)
		require.NoError(t, err)
		require.Equal(t, []queue.TopicInfo{{Name: topicName, LastSeq: topicEvents, FirstSeq: topicEvents - topicRetain + 1,
			Events: topicRetain, Retention: queue.Retention{MaxEvents: topicRetain}}}, topics)
		log, err := q.Topics().Events(ctx, queue.EventFilter{Topic: topicName, Limit: 1000})
		require.NoError(t, err)
		require.Len(t, log, topicRetain)
		for i, r := range log {
			e := kept[i]
			require.Equal(t, e.id, r.ID, "retained event %d", i)
			require.Equal(t, e.seq, r.Seq, "retained event %d", i)
			require.Equal(t, topicKey(e.order), r.OrderKey, "retained event %d", i)
			require.JSONEq(t, fmt.Sprintf(`{"order":%d,"n":%d}`, e.order, e.n), string(r.Payload), "retained event %d", i)
		}
	}
	checkRetained(q)
	require.NoError(t, store.Close())
	store, q = open()
	checkRetained(q)
	n, err = q.Topics().PruneEvents(ctx, 1000)
	require.NoError(t, err)
	require.Zero(t, n, "pruning again after a restart")
	require.NoError(t, q.Topics().Subscribe(ctx, queue.Subscription{Name: "fresh", Pattern: "orders.#", Kind: "orders.fresh",
		MaxAttempts: topicMaxAttempts, From: queue.StartAt{Beginning: true}}))
	subs = subsByName(t, q)
	require.Equal(t, evs[len(evs)-1].id, subs["fresh"].Cursor)
	require.Zero(t, subs["fresh"].Backlog)
	require.Equal(t, topicRetain, subs["fresh"].Lag)
	require.Zero(t, subs["live"].Lag+subs["late"].Lag)
	freshStreams := deliveredStreams(kept, map[string]int64{"fresh": evs[len(evs)-1].id})
	requireDeliveries(t, q, byID, freshStreams, "the new subscription")
	require.NoError(t, store.Close())
	final = childtest.Start(t, "topicscrash", env(freshLog, "ffinal", 100*time.Millisecond, true)...)
	final.Wait(60 * time.Second)
	store, q = open()
	requireEmptyStore(t, q)
	fst := checkTopicStreams(t, readTopicLog(t, freshLog, byID), freshStreams, map[string]bool{}, leaseLostJobs(t, freshLog))
	require.NoError(t, store.Close())
	t.Logf("retention %d: pruned %d events; fresh (from the beginning) got seqs %d..%d and handled them in %d handler runs; %s; %s in all",
		topicRetain, pruned, kept[0].seq, kept[len(kept)-1].seq, fst.starts, time.Since(began3).Round(time.Millisecond),
		time.Since(began).Round(time.Millisecond))
}

// lineCounter counts the complete lines of a growing file, reading only
// what was appended since its last call (the parent polls it often while a
// child works).
type lineCounter struct {
	path string
	off  int64
	n    int
}

func (c *lineCounter) count(t *testing.T) int {
	t.Helper()
	f, err := os.Open(c.path)
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		k, err := f.ReadAt(buf, c.off)
		c.n += bytes.Count(buf[:k], []byte{'\n'})
		c.off += int64(k)
		if err == io.EOF {
			return c.n
		}
		require.NoError(t, err)
	}
}

func countInts(list []int, v int) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}

// requireContiguous checks that the events' IDs and seqs have no gaps.
func requireContiguous(t *testing.T, evs []*topicEvent) {
	t.Helper()
	for i, e := range evs {
		require.Equal(t, int64(i+1), e.seq, "event %d", i)
		require.Equal(t, evs[0].id+int64(i), e.id, "event %d (seq %d)", i, e.seq)
	}
}

func subsByName(t *testing.T, q *queue.Queue) map[string]queue.SubscriptionInfo {
	t.Helper()
	list, err := q.Topics().Subscriptions(t.Context())
	require.NoError(t, err)
	out := map[string]queue.SubscriptionInfo{}
	for _, s := range list {
		out[s.Name] = s
	}
	return out
}

// deliveredStreams returns, per stream, the IDs of the events delivered to
// it, in order: for each subscription, the events up to its cursor.
func deliveredStreams(evs []*topicEvent, cursors map[string]int64) map[string][]int64 {
	out := map[string][]int64{}
	for sub, cursor := range cursors {
		for _, e := range evs {
			if e.id <= cursor {
				out[e.stream(sub)] = append(out[e.stream(sub)], e.id)
			}
		}
	}
	return out
}

// allJobs lists every job in the store, live or dead.
func allJobs(t *testing.T, q *queue.Queue) []*queue.Job {
	t.Helper()
	var out []*queue.Job
	for before := int64(0); ; {
		page, err := q.Inspector().List(t.Context(), queue.ListFilter{Limit: 1000, BeforeID: before})
		require.NoError(t, err)
		out = append(out, page...)
		if len(page) < 1000 {
			return out
		}
		before = page[len(page)-1].ID
	}
}

// deliveryOf checks that j is a delivery of a published event with the
// metadata, kind, ordering key and payload it must have, and returns the
// event and the subscription.
func deliveryOf(t *testing.T, j *queue.Job, byID map[int64]*topicEvent) (*topicEvent, string) {
	t.Helper()
	require.NotEqual(t, queue.StateDead, j.State, "job %d died: %s", j.ID, j.DeadReason)
	sub := j.Metadata["spool.subscription"]
	id, err := strconv.ParseInt(j.Metadata["spool.event_id"], 10, 64)
	require.NoError(t, err, "job %d: spool.event_id", j.ID)
	e := byID[id]
	require.NotNil(t, e, "job %d delivers event %d, which was never published", j.ID, id)
	require.Equal(t, "orders."+sub, j.Kind, "job %d", j.ID)
	require.Equal(t, e.stream(sub), j.OrderKey, "job %d", j.ID)
	require.Equal(t, strconv.FormatInt(e.seq, 10), j.Metadata["spool.seq"], "job %d", j.ID)
	require.Equal(t, topicName, j.Metadata["spool.topic"], "job %d", j.ID)
	require.Equal(t, strconv.Itoa(e.phase), j.Metadata["phase"], "job %d", j.ID)
	require.JSONEq(t, fmt.Sprintf(`{"order":%d,"n":%d}`, e.order, e.n), string(j.Payload), "job %d", j.ID)
	return e, sub
}

// requireDeliveries checks that the store holds exactly one job per event
// of the streams, and no other, made in log order (job IDs grow with event
// IDs), per stream the oldest job ready and the rest waiting behind it.
func requireDeliveries(t *testing.T, q *queue.Queue, byID map[int64]*topicEvent, streams map[string][]int64, what string) {
	t.Helper()
	got := map[string][]*queue.Job{}
	jobs := allJobs(t, q)
	slices.SortFunc(jobs, func(a, b *queue.Job) int { return int(a.ID - b.ID) })
	var prev *topicEvent
	for _, j := range jobs {
		e, sub := deliveryOf(t, j, byID)
		if prev != nil {
			require.Less(t, prev.id, e.id, "%s: job %d (seq %d) made after the job of seq %d", what, j.ID, e.seq, prev.seq)
		}
		prev = e
		got[e.stream(sub)] = append(got[e.stream(sub)], j)
	}
	require.Len(t, got, len(streams), "%s: streams with jobs", what)
	for name, want := range streams {
		list := got[name]
		ids := make([]int64, len(list))
		for i, j := range list {
			ids[i], _ = strconv.ParseInt(j.Metadata["spool.event_id"], 10, 64)
			if i == 0 {
				require.Equal(t, queue.StatePending, j.State, "%s: %s: the head, job %d", what, name, j.ID)
			} else {
				require.Equal(t, queue.StateBlocked, j.State, "%s: %s: job %d behind the head", what, name, j.ID)
			}
		}
		require.Equal(t, want, ids, "%s: %s: the events of its jobs, in job ID order", what, name)
	}
}

func requireEmptyStore(t *testing.T, q *queue.Queue) {
	t.Helper()
	st, err := q.Inspector().Stats(t.Context())
	require.NoError(t, err)
	for _, qs := range st.Queues {
		require.Zero(t, qs.Pending+qs.Scheduled+qs.Running+qs.Blocked+qs.BlockedKeys+qs.StuckKeys+qs.Completed+qs.Cancelled+qs.Dead,
			"queue %q should hold no jobs: %+v", qs.Name, qs)
	}
	left, err := q.Inspector().List(t.Context(), queue.ListFilter{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, left, "jobs left in the store (live or dead)")
}

// topicLine is one line of a topics log.
type topicLine struct {
	what, run, sub string
	ev             *topicEvent
	jobID          int64
	line           int
}

func (l topicLine) String() string {
	return fmt.Sprintf("line %d: %s %s job %d (%s seq %d, n %d)", l.line, l.what, l.run, l.jobID, l.ev.stream(l.sub), l.ev.seq, l.ev.n)
}

// readTopicLog parses the lines "start|done|fail <run> <subscription>
// <orderKey> <order> <n> <eventID> <seq> <jobID> <kind> <phase> <topic>"
// and checks that each delivers a published event with its own payload,
// metadata, kind and ordering key.
func readTopicLog(t *testing.T, path string, byID map[int64]*topicEvent) []topicLine {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []topicLine
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fl := strings.Fields(sc.Text())
		require.Len(t, fl, 12, "log line %d: %q", n, sc.Text())
		require.Contains(t, []string{"start", "done", "fail"}, fl[0], "log line %d: %q", n, sc.Text())
		num := func(s string) int64 {
			v, err := strconv.ParseInt(s, 10, 64)
			require.NoError(t, err, "log line %d: %q", n, sc.Text())
			return v
		}
		e := byID[num(fl[6])]
		require.NotNil(t, e, "log line %d delivers an event never published: %q", n, sc.Text())
		sub := fl[2]
		require.Equal(t, []string{e.stream(sub), strconv.Itoa(e.order), strconv.Itoa(e.n), strconv.FormatInt(e.seq, 10),
			"orders." + sub, strconv.Itoa(e.phase), topicName},
			[]string{fl[3], fl[4], fl[5], fl[7], fl[9], fl[10], fl[11]}, "log line %d: %q", n, sc.Text())
		out = append(out, topicLine{what: fl[0], run: fl[1], sub: sub, ev: e, jobID: num(fl[8]), line: n})
	}
	require.NoError(t, sc.Err())
	return out
}

type topicStats struct {
	starts, failed, interrupted, ackLost, dupEvents int
}

// leaseLostJobs returns the jobs whose lease a live worker lost, from the
// warnings the children wrote beside log: a handler stalled past its lease
// (on a machine loaded far past its cores, a heartbeat can come later than
// the 1 s lease) is rescued and runs again although nothing was killed.
// That is the at-least-once promise, not a fault; only such jobs may run
// twice without a kill.
func leaseLostJobs(t *testing.T, log string) map[int64]bool {
	t.Helper()
	lost := map[int64]bool{}
	b, err := os.ReadFile(log + ".warn")
	if errors.Is(err, os.ErrNotExist) {
		return lost
	}
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, "lost lease before settling") && !strings.Contains(line, "after losing its lease") &&
			!strings.Contains(line, "rescued job with expired lease") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "job="); ok {
				if id, err := strconv.ParseInt(v, 10, 64); err == nil {
					lost[id] = true
				}
			}
		}
	}
	return lost
}

// checkTopicStreams checks the log against the expected streams (per
// subscription and key, the events in log order): every line belongs to
// one of them; each event is carried by one job (a second job for an event
// would be a second delivery); per stream, handler runs are one at a
// time, start at the first event, re-run an event only after a failure, a
// kill that cut its run short or a kill that lost its acknowledgement, and
// move to the next event only after a "done"; so the first "done"s of a
// stream are its events in log order, each of them.
func checkTopicStreams(t *testing.T, lines []topicLine, expected map[string][]int64, killed map[string]bool, leaseLost map[int64]bool) topicStats {
	t.Helper()
	byStream := map[string][]topicLine{}
	for _, l := range lines {
		name := l.ev.stream(l.sub)
		require.Contains(t, expected, name, "%s: a stream that should get nothing", l)
		byStream[name] = append(byStream[name], l)
	}
	require.Len(t, byStream, len(expected), "streams in the log")
	var st topicStats
	for name, want := range expected {
		ls := byStream[name]
		history := func(upTo int) string {
			var b strings.Builder
			for _, l := range ls[max(0, upTo-12) : upTo+1] {
				b.WriteString("\n  " + l.String())
			}
			return b.String()
		}
		jobOf := map[int64]int64{} // event → the job that carries it
		head := 0                  // index in want of the stream's head
		headDone := false
		var open *topicLine
		var lastEnd topicLine
		var firstDones []int64
		dones := map[int64]int{}
		for i := range ls {
			l := ls[i]
			if j, ok := jobOf[l.ev.id]; ok {
				require.Equal(t, j, l.jobID, "%s: event %d delivered to %s twice (jobs %d and %d)%s", name, l.ev.id, l.sub, j, l.jobID, history(i))
			}
			jobOf[l.ev.id] = l.jobID
			switch l.what {
			case "start":
				st.starts++
				if open != nil {
					require.True(t, (killed[open.run] || leaseLost[open.jobID]) && open.run != l.run,
						"%s: two handler runs at once (%s still running when %s)%s", name, open, l, history(i))
					st.interrupted++
				}
				switch {
				case l.ev.id == want[head] && !headDone:
				case l.ev.id == want[head] && headDone:
					require.True(t, (killed[lastEnd.run] || leaseLost[lastEnd.jobID]) && lastEnd.run != l.run,
						"%s: seq %d ran again after it finished (%s) without a kill in between: %s%s", name, l.ev.seq, lastEnd, l, history(i))
					st.ackLost++
				case head+1 < len(want) && l.ev.id == want[head+1] && headDone && open == nil:
					head++
				default:
					require.Failf(t, "out of order", "%s: %s while event %d was the head (finished=%v)%s", name, l, want[head], headDone, history(i))
				}
				headDone = false
				open = &ls[i]
			case "done", "fail":
				require.True(t, open != nil && open.run == l.run && open.jobID == l.jobID,
					"%s: %s ends no open handler run of this job%s", name, l, history(i))
				open = nil
				lastEnd = l
				headDone = l.what == "done"
				if headDone {
					if dones[l.ev.id] == 0 {
						firstDones = append(firstDones, l.ev.id)
					} else if dones[l.ev.id] == 1 {
						st.dupEvents++
					}
					dones[l.ev.id]++
				} else {
					st.failed++
				}
			}
		}
		require.Nil(t, open, "%s: its last handler run never ended", name)
		require.Equal(t, want, firstDones, "%s: the first completions differ from the stream's events in log order", name)
		require.True(t, headDone && head == len(want)-1, "%s: ends at event %d (done=%v)", name, want[head], headDone)
	}
	return st
}

// checkBacklogFirst checks that "late" handled every phase-1 (backlog)
// event of a key before it started any phase-2 event of the key.
func checkBacklogFirst(t *testing.T, lines []topicLine) {
	t.Helper()
	lastBacklogDone := map[string]topicLine{}
	for _, l := range lines {
		if l.sub != "late" {
			continue
		}
		name := l.ev.stream(l.sub)
		switch {
		case l.ev.phase == 1 && l.what == "done":
			lastBacklogDone[name] = l
		case l.ev.phase == 2 && l.what == "start":
			last, ok := lastBacklogDone[name]
			require.True(t, ok && last.ev.n == topicPerOrder1-1,
				"%s: %s before its last backlog event was handled (last done: %v)", name, l, last)
		}
	}
}

// topicSnapshot checks the store as a kill left it against the log and the
// streams delivered so far: no job is dead; every job delivers a published
// event of a delivered stream, as checked by deliveryOf; per stream, the
// live jobs are the end of its delivered events, the oldest is pending,
// scheduled or running and the rest are blocked; every delivered event
// without a live job was handled ("done" in the log): nothing delivered
// was lost; each subscription's Lag counts its live jobs.
func topicSnapshot(t *testing.T, q *queue.Queue, logPath string, byID map[int64]*topicEvent, delivered map[string][]int64, what string) {
	t.Helper()
	live := map[string][]*queue.Job{}
	lag := map[string]int{}
	jobs := allJobs(t, q)
	slices.SortFunc(jobs, func(a, b *queue.Job) int { return int(a.ID - b.ID) })
	for _, j := range jobs {
		e, sub := deliveryOf(t, j, byID)
		require.Contains(t, delivered, e.stream(sub), "%s: job %d of a stream that has nothing delivered", what, j.ID)
		live[e.stream(sub)] = append(live[e.stream(sub)], j)
		lag[sub]++
	}
	for name, s := range subsByName(t, q) {
		require.Equal(t, lag[name], s.Lag, "%s: subscription %s: Lag vs its live jobs", what, name)
	}
	done := map[string]bool{}
	for _, l := range readTopicLog(t, logPath, byID) {
		if l.what == "done" {
			done[l.ev.stream(l.sub)+"/"+strconv.FormatInt(l.ev.id, 10)] = true
		}
	}
	heads := map[queue.State]int{}
	for name, want := range delivered {
		list := live[name]
		from := len(want) - len(list)
		require.GreaterOrEqual(t, from, 0, "%s: %s has more live jobs than delivered events", what, name)
		for i, j := range list {
			id, _ := strconv.ParseInt(j.Metadata["spool.event_id"], 10, 64)
			require.Equal(t, want[from+i], id, "%s: %s: the live jobs are not the end of the delivered events", what, name)
			if i == 0 {
				require.Contains(t, []queue.State{queue.StatePending, queue.StateScheduled, queue.StateRunning}, j.State,
					"%s: %s: its head (job %d) should be ready, scheduled or running", what, name, j.ID)
				heads[j.State]++
			} else {
				require.Equal(t, queue.StateBlocked, j.State, "%s: %s: job %d behind the head", what, name, j.ID)
			}
		}
		for _, id := range want[:from] {
			require.True(t, done[name+"/"+strconv.FormatInt(id, 10)],
				"%s: %s: event %d (seq %d) has no live job but was never handled: lost", what, name, id, byID[id].seq)
		}
	}
	t.Logf("%s: %d live jobs in %d streams; heads: %v", what, len(jobs), len(live), heads)
}

// topicsCrashChild is the worker process of TestTopicsAcrossCrashes. It
// handles the three subscriptions' kinds, logging each handler run's start
// and end; a seeded draw makes about topicFailPct percent of runs fail. Its
// maintenance runs every SPOOL_TEST_MAINT. It prints "ready" once its pool
// runs, and works until killed or, in the final run (SPOOL_TEST_FINAL=1),
// until no subscription has a backlog and the store has no live job.
func topicsCrashChild() error {
	logPath, run := os.Getenv("SPOOL_TEST_LOG"), os.Getenv("SPOOL_TEST_RUN")
	seed, err := strconv.ParseUint(os.Getenv("SPOOL_TEST_SEED"), 10, 64)
	if err != nil {
		return fmt.Errorf("SPOOL_TEST_SEED: %w", err)
	}
	maint, err := time.ParseDuration(os.Getenv("SPOOL_TEST_MAINT"))
	if err != nil {
		return fmt.Errorf("SPOOL_TEST_MAINT: %w", err)
	}
	ctx := context.Background()
	warnFile, err := os.OpenFile(logPath+".warn", os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer warnFile.Close()
	logger := slog.New(slog.NewTextHandler(warnFile, &slog.HandlerOptions{Level: slog.LevelWarn})).With("run", run)
	store, err := crashDBFromEnv().Open(ctx, openOpts{Logger: logger})
	if err != nil {
		return err
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{Logger: logger})
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()

	h := fnv.New64a()
	h.Write([]byte(run))
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))
	fail := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return rng.IntN(100) < topicFailPct
	}
	pool, err := worker.New(q, worker.Options{
		Queues:              map[string]worker.QueueConfig{queue.DefaultQueue: {MaxWorkers: 32}},
		LeaseDuration:       time.Second,
		HeartbeatInterval:   300 * time.Millisecond,
		MaintenanceInterval: maint,
		PollInterval:        50 * time.Millisecond,
		Backoff:             queue.Constant(10 * time.Millisecond),
		Logger:              logger,
	})
	if err != nil {
		return err
	}
	handler := worker.JSON(func(ctx context.Context, j *queue.Job, a topicArgs) error {
		md := j.Metadata
		line := fmt.Sprintf("%s %s %s %d %d %s %s %d %s %s %s\n", run, md["spool.subscription"], j.OrderKey, a.Order, a.N,
			md["spool.event_id"], md["spool.seq"], j.ID, j.Kind, md["phase"], md["spool.topic"])
		if _, err := io.WriteString(logFile, "start "+line); err != nil {
			return err
		}
		time.Sleep(rand.N(2 * time.Millisecond)) // a little work
		if fail() {
			if _, err := io.WriteString(logFile, "fail "+line); err != nil {
				return err
			}
			return errors.New("downstream hiccup")
		}
		_, err := io.WriteString(logFile, "done "+line)
		return err
	})
	for _, sub := range []string{"live", "late", "fresh"} {
		pool.Handle("orders."+sub, handler)
	}
	if err := pool.Start(ctx); err != nil {
		return err
	}
	childtest.Say("ready")
	if os.Getenv("SPOOL_TEST_FINAL") != "1" {
		_ = childtest.AwaitClose() // until killed
		return errors.New("stdin closed before the parent killed this run")
	}
	// The backlog first (this pool's maintenance delivers it), then the
	// jobs; nothing publishes during a final run.
	deadline := time.Now().Add(30 * time.Second)
	for {
		subs, err := q.Topics().Subscriptions(ctx)
		if err != nil {
			return fmt.Errorf("subscriptions: %w", err)
		}
		backlog := 0
		for _, s := range subs {
			backlog += s.Backlog
		}
		if backlog == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("backlog still left after 30s: %+v", subs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return drainAndStop(ctx, q, pool, 50*time.Second)
}
