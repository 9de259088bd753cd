package queuetest

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// topicArea: TopicStore.
var topicArea = area{"Topic", []testCase{
	{"FanOutToMatchingSubscriptions", testTopicFanOut},
	{"LogBacklogAndRetention", testTopicLogAndBacklog},
	{"IgnoresMaxPending", testTopicIgnoresMaxPending},
	{"WritesFollowCallerTx", testTopicWritesInTx},
	{"ReplayToOneSubscription", testTopicReplay},
	{"ReplayOutsideTheLogRefused", testTopicReplayRefusals},
	{"OutboxAndOrderPerSubscription", testTopicOutboxAndOrder},
	{"SubscribeIdempotent", testTopicSubscribeIdempotent},
	{"EventsBySeqTimeAndLimit", testTopicEvents},
	{"OneTopicByName", testTopicGet},
	{"PeerSubscriptionsApplyToNextPublish", testTopicPeerSubscriptions},
}}

func (e *env) topicStore() queue.TopicStore {
	ts, ok := e.store.(queue.TopicStore)
	if !ok {
		e.t.Skip("backend has no topics")
	}
	return ts
}

func (e *env) subscribe(s queue.Subscription) {
	e.t.Helper()
	require.NoError(e.t, e.q.Topics().Subscribe(e.ctx, s))
}

func (e *env) publish(ev queue.Event) queue.PublishResult {
	e.t.Helper()
	r, err := e.q.Publish(e.ctx, ev)
	require.NoError(e.t, err)
	return r
}

// jobsIn lists a queue's live jobs oldest first.
func (e *env) jobsIn(name string) []*queue.Job {
	e.t.Helper()
	list, err := e.store.List(e.ctx, queue.ListFilter{Queue: name, Limit: 1000})
	require.NoError(e.t, err)
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list
}

func seqs(jobs []*queue.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.Metadata["spool.seq"]
	}
	return out
}

func testTopicFanOut(e *env) {
	e.topicStore()
	e.subscribe(queue.Subscription{Name: "stock", Pattern: "orders.created", Queue: "stock", Kind: "stock.reserve"})
	e.subscribe(queue.Subscription{Name: "payment", Pattern: "orders.*", Queue: "payment", Kind: "payment.charge", MaxAttempts: 5})
	e.subscribe(queue.Subscription{Name: "audit", Pattern: "#", Queue: "audit", Kind: "audit.log"})
	e.subscribe(queue.Subscription{Name: "web-email", Pattern: "orders.created", Filter: map[string]string{"channel": "web"}, Queue: "mail", Kind: "email.receipt"})
	e.subscribe(queue.Subscription{Name: "refunds", Pattern: "payments.#", Queue: "refunds", Kind: "refund"})

	r := e.publish(queue.Event{Topic: "orders.created", Args: map[string]int{"order": 1}, Metadata: map[string]string{"channel": "web"}})
	require.Equal(e.t, int64(1), r.Seq)
	require.Equal(e.t, 4, r.Jobs, "stock, payment, audit and the filtered email")
	r = e.publish(queue.Event{Topic: "orders.created", Args: map[string]int{"order": 2}, Metadata: map[string]string{"channel": "phone"}})
	require.Equal(e.t, int64(2), r.Seq)
	require.Equal(e.t, 3, r.Jobs, "the filter drops the phone order's email")
	r = e.publish(queue.Event{Topic: "orders.cancelled"})
	require.Equal(e.t, int64(1), r.Seq, "sequences are per topic")
	require.Equal(e.t, 2, r.Jobs)

	stock := e.jobsIn("stock")
	require.Len(e.t, stock, 2)
	require.Equal(e.t, "stock.reserve", stock[0].Kind)
	require.JSONEq(e.t, `{"order":1}`, string(stock[0].Payload))
	require.Equal(e.t, "orders.created", stock[0].Metadata["spool.topic"])
	require.Equal(e.t, "1", stock[0].Metadata["spool.seq"])
	require.Equal(e.t, "stock", stock[0].Metadata["spool.subscription"])
	require.Equal(e.t, "web", stock[0].Metadata["channel"])
	require.Len(e.t, e.jobsIn("payment"), 3)
	require.Equal(e.t, 5, e.jobsIn("payment")[0].MaxAttempts)
	require.Len(e.t, e.jobsIn("audit"), 3)
	require.Len(e.t, e.jobsIn("mail"), 1)
	require.Empty(e.t, e.jobsIn("refunds"))

	// A failing subscriber dead-letters alone.
	j := e.leaseOne("payment")
	d := settlement(j, queue.OutcomeDead)
	d.Reason = "card declined"
	require.NoError(e.t, e.settle(d)[0])
	require.Len(e.t, e.jobsIn("stock"), 2)
	require.Len(e.t, e.jobsIn("audit"), 3)

	subs, err := e.q.Topics().Subscriptions(e.ctx)
	require.NoError(e.t, err)
	lag := map[string]int{}
	for _, s := range subs {
		lag[s.Name] = s.Lag
		require.Zero(e.t, s.Backlog, "%s is caught up", s.Name)
	}
	require.Equal(e.t, map[string]int{"audit": 3, "payment": 2, "refunds": 0, "stock": 2, "web-email": 1}, lag)

	topics, err := e.q.Topics().List(e.ctx)
	require.NoError(e.t, err)
	require.Len(e.t, topics, 2)
	require.Equal(e.t, "orders.created", topics[1].Name)
	require.Equal(e.t, int64(2), topics[1].LastSeq)
	require.Equal(e.t, 2, topics[1].Events)

	require.ErrorIs(e.t, e.q.Topics().Subscribe(e.ctx, queue.Subscription{Name: "stock", Pattern: "x", Kind: "k"}), queue.ErrSubscriptionChanged, "a name taken by another definition")
	for _, bad := range []queue.Subscription{
		{Name: "", Pattern: "x", Kind: "k"},
		{Name: "s", Pattern: "orders.x*", Kind: "k"},
		{Name: "s", Pattern: "orders", Kind: ""},
		{Name: "s", Pattern: "orders.*", Kind: "k", From: queue.StartAt{Seq: 3}},
		{Name: "s", Pattern: "orders", Kind: "k", From: queue.StartAt{Beginning: true, Seq: 3}},
	} {
		require.ErrorIs(e.t, e.q.Topics().Subscribe(e.ctx, bad), queue.ErrInvalidArgument, "%+v", bad)
	}
	_, err = e.q.Publish(e.ctx, queue.Event{Topic: "orders.*"})
	require.ErrorIs(e.t, err, queue.ErrInvalidArgument)
}

// A subscriber's full queue does not refuse a publish: the publisher never
// waits for one subscriber, while a plain enqueue is still refused.
func testTopicIgnoresMaxPending(e *env) {
	e.topicStore()
	e.settings("slow", queue.QueueSettings{MaxPending: 1})
	e.subscribe(queue.Subscription{Name: "slow", Pattern: "orders.created", Queue: "slow", Kind: "k"})
	for range 3 {
		require.Equal(e.t, 1, e.publish(queue.Event{Topic: "orders.created"}).Jobs)
	}
	require.Len(e.t, e.jobsIn("slow"), 3)
	_, err := e.q.Enqueue(e.ctx, queue.NewJob{Queue: "slow", Kind: "k"})
	var full *queue.QueueFullError
	require.ErrorAs(e.t, err, &full)
}

func testTopicLogAndBacklog(e *env) {
	ts := e.topicStore()
	for i := range 5 {
		e.publish(queue.Event{Topic: "stock.changed", Args: i})
	}
	// Joining late, from the beginning: the backlog comes first and in order.
	require.NoError(e.t, ts.Subscribe(e.ctx, nil, queue.Subscription{Name: "rebuild", Pattern: "stock.*", Queue: "r", Kind: "rebuild", From: queue.StartAt{Beginning: true}}, e.clock.Now()))
	r := e.publish(queue.Event{Topic: "stock.changed", Args: 5})
	require.Zero(e.t, r.Jobs, "a subscription catching up gets no new event before its backlog")
	subs, err := e.q.Topics().Subscriptions(e.ctx)
	require.NoError(e.t, err)
	require.Equal(e.t, 6, subs[0].Backlog)
	n, err := e.q.Topics().DeliverBacklog(e.ctx, 4)
	require.NoError(e.t, err)
	require.Equal(e.t, 4, n)
	n, err = e.q.Topics().DeliverBacklog(e.ctx, 4)
	require.NoError(e.t, err)
	require.Equal(e.t, 2, n)
	r = e.publish(queue.Event{Topic: "stock.changed", Args: 6})
	require.Equal(e.t, 1, r.Jobs, "caught up: new events are delivered as published")
	require.Equal(e.t, []string{"1", "2", "3", "4", "5", "6", "7"}, seqs(e.jobsIn("r")))

	// From a sequence number, and from a time.
	e.subscribe(queue.Subscription{Name: "from-seq", Pattern: "stock.changed", Queue: "s", Kind: "k", From: queue.StartAt{Seq: 6}})
	require.Equal(e.t, []string{"6", "7"}, seqs(e.jobsIn("s")))
	e.clock.Advance(time.Hour)
	mark := e.clock.Now()
	e.publish(queue.Event{Topic: "stock.changed", Args: 7})
	e.subscribe(queue.Subscription{Name: "from-time", Pattern: "stock.*", Queue: "t", Kind: "k", From: queue.StartAt{Time: mark}})
	require.Equal(e.t, []string{"8"}, seqs(e.jobsIn("t")))
	e.subscribe(queue.Subscription{Name: "from-now", Pattern: "stock.*", Queue: "n", Kind: "k"})
	require.Empty(e.t, e.jobsIn("n"))

	events, err := e.q.Topics().Events(e.ctx, queue.EventFilter{Topic: "stock.changed", FromSeq: 2, ToSeq: 4})
	require.NoError(e.t, err)
	require.Len(e.t, events, 3)
	require.Equal(e.t, int64(2), events[0].Seq)
	require.Equal(e.t, "1", string(events[0].Payload))

	// Retention by count, then by age.
	require.NoError(e.t, e.q.Topics().SetRetention(e.ctx, "stock.changed", queue.Retention{MaxEvents: 3}))
	n, err = e.q.Topics().PruneEvents(e.ctx, 100)
	require.NoError(e.t, err)
	require.Equal(e.t, 5, n)
	topics, err := e.q.Topics().List(e.ctx)
	require.NoError(e.t, err)
	require.Equal(e.t, int64(6), topics[0].FirstSeq)
	require.Equal(e.t, 3, topics[0].Events)
	require.NoError(e.t, e.q.Topics().SetRetention(e.ctx, "stock.changed", queue.Retention{MaxAge: 30 * time.Minute}))
	n, err = e.q.Topics().PruneEvents(e.ctx, 100)
	require.NoError(e.t, err)
	require.Equal(e.t, 2, n, "the two events from an hour ago")
	e.subscribe(queue.Subscription{Name: "late", Pattern: "#", Queue: "l", Kind: "k", From: queue.StartAt{Beginning: true}})
	require.Equal(e.t, []string{"8"}, seqs(e.jobsIn("l")), "the beginning of the retained log")
}

func testTopicReplay(e *env) {
	e.subscribe(queue.Subscription{Name: "erp", Pattern: "orders.created", Queue: "erp", Kind: "erp.push"})
	e.subscribe(queue.Subscription{Name: "mail", Pattern: "orders.created", Queue: "mail", Kind: "email"})
	for i := range 5 {
		e.publish(queue.Event{Topic: "orders.created", Args: i})
	}
	// The ERP handler had a bug: its jobs completed without effect.
	for _, j := range e.lease("erp", 10) {
		require.NoError(e.t, e.settle(settlement(j, queue.OutcomeComplete))[0])
	}
	n, err := e.q.Topics().Replay(e.ctx, "erp", queue.EventFilter{Topic: "orders.created", FromSeq: 2, ToSeq: 4})
	require.NoError(e.t, err)
	require.Equal(e.t, 3, n)
	require.Equal(e.t, []string{"2", "3", "4"}, seqs(e.jobsIn("erp")))
	require.Len(e.t, e.jobsIn("mail"), 5, "other subscribers see nothing")
	n, err = e.q.Topics().Replay(e.ctx, "erp", queue.EventFilter{Topic: "orders.created", FromSeq: 2, ToSeq: 4})
	require.NoError(e.t, err)
	require.Zero(e.t, n, "events whose job is still live are not doubled")
	_, err = e.q.Topics().Replay(e.ctx, "nope", queue.EventFilter{Topic: "orders.created"})
	require.ErrorIs(e.t, err, queue.ErrSubscriptionNotFound)
	_, err = e.q.Topics().Replay(e.ctx, "erp", queue.EventFilter{Topic: "payments.done"})
	require.ErrorContains(e.t, err, "does not receive topic")
	_, err = e.q.Topics().Replay(e.ctx, "erp", queue.EventFilter{Topic: "orders.created", FromSeq: 5, ToSeq: 2})
	require.ErrorIs(e.t, err, queue.ErrInvalidArgument)
}

// A replay outside what the log holds is refused, not silently empty: a
// topic never published to, a range past the last event, a range before
// what the retention kept.
func testTopicReplayRefusals(e *env) {
	e.subscribe(queue.Subscription{Name: "erp", Pattern: "orders.#", Queue: "erp", Kind: "erp.push"})
	_, err := e.q.Topics().Replay(e.ctx, "erp", queue.EventFilter{Topic: "orders.archived"})
	require.ErrorIs(e.t, err, queue.ErrTopicNotFound)
	for i := range 5 {
		e.publish(queue.Event{Topic: "orders.created", Args: i})
	}
	_, err = e.q.Topics().Replay(e.ctx, "erp", queue.EventFilter{Topic: "orders.created", FromSeq: 1, ToSeq: 6})
	require.ErrorIs(e.t, err, queue.ErrInvalidArgument)
	require.ErrorContains(e.t, err, "past the last event")
	require.NoError(e.t, e.q.Topics().SetRetention(e.ctx, "orders.created", queue.Retention{MaxEvents: 2}))
	_, err = e.q.Topics().PruneEvents(e.ctx, 100)
	require.NoError(e.t, err)
	_, err = e.q.Topics().Replay(e.ctx, "erp", queue.EventFilter{Topic: "orders.created", FromSeq: 1, ToSeq: 5})
	require.ErrorIs(e.t, err, queue.ErrInvalidArgument)
	require.ErrorContains(e.t, err, "before the oldest event")
	n, err := e.q.Topics().Replay(e.ctx, "erp", queue.EventFilter{Topic: "orders.created", FromSeq: 4, ToSeq: 5})
	require.NoError(e.t, err)
	require.Zero(e.t, n, "the retained events' jobs are still live: nothing doubled")
}

// Subscriptions made or removed, replays and retention changes inside the
// caller's transaction follow it.
func testTopicWritesInTx(e *env) {
	e.topicStore()
	if e.db == nil {
		e.t.Skip("backend gives no DB handle")
	}
	names := func() []string {
		subs, err := e.q.Topics().Subscriptions(e.ctx)
		require.NoError(e.t, err)
		var out []string
		for _, s := range subs {
			out = append(out, s.Name)
		}
		return out
	}
	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	require.NoError(e.t, e.q.Topics().SubscribeTx(e.ctx, tx, queue.Subscription{Name: "gone", Pattern: "orders.#", Kind: "k"}))
	require.NoError(e.t, tx.Rollback())
	require.Empty(e.t, names(), "a rolled-back subscribe leaves no subscription")
	require.Zero(e.t, e.publish(queue.Event{Topic: "orders.created"}).Jobs)

	tx, err = e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	require.NoError(e.t, e.q.Topics().SubscribeTx(e.ctx, tx, queue.Subscription{Name: "stock", Pattern: "orders.#", Kind: "k", From: queue.StartAt{Beginning: true}}))
	require.NoError(e.t, tx.Commit())
	require.Equal(e.t, []string{"stock"}, names())
	n, err := e.q.Topics().DeliverBacklog(e.ctx, 100)
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n, "the event published before it, once the subscription committed")

	// Replay and retention follow the caller's transaction too.
	retention := func() queue.Retention {
		topics, err := e.q.Topics().List(e.ctx)
		require.NoError(e.t, err)
		require.Len(e.t, topics, 1)
		return topics[0].Retention
	}
	tx, err = e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	n, err = e.q.Topics().ReplayTx(e.ctx, tx, "stock", queue.EventFilter{Topic: "orders.created"})
	require.NoError(e.t, err)
	require.Equal(e.t, 0, n, "its one event's job is still live")
	require.NoError(e.t, e.q.Topics().SetRetentionTx(e.ctx, tx, "orders.created", queue.Retention{MaxEvents: 7}))
	require.NoError(e.t, tx.Rollback())
	require.Zero(e.t, retention().MaxEvents, "a rolled-back retention change leaves none")
	for _, j := range e.lease(queue.DefaultQueue, 10) {
		e.complete(j)
	}
	tx, err = e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	n, err = e.q.Topics().ReplayTx(e.ctx, tx, "stock", queue.EventFilter{Topic: "orders.created"})
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n)
	require.NoError(e.t, tx.Rollback())
	require.Len(e.t, e.jobsIn(queue.DefaultQueue), 0, "a rolled-back replay leaves no job")
	tx, err = e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	n, err = e.q.Topics().ReplayTx(e.ctx, tx, "stock", queue.EventFilter{Topic: "orders.created"})
	require.NoError(e.t, err)
	require.Equal(e.t, 1, n)
	require.NoError(e.t, e.q.Topics().SetRetentionTx(e.ctx, tx, "orders.created", queue.Retention{MaxEvents: 7}))
	require.NoError(e.t, tx.Commit())
	require.Len(e.t, e.jobsIn(queue.DefaultQueue), 1)
	require.Equal(e.t, 7, retention().MaxEvents)

	tx, err = e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	require.NoError(e.t, e.q.Topics().UnsubscribeTx(e.ctx, tx, "stock"))
	require.NoError(e.t, tx.Rollback())
	require.Equal(e.t, []string{"stock"}, names(), "a rolled-back unsubscribe keeps it")
	tx, err = e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	require.NoError(e.t, e.q.Topics().UnsubscribeTx(e.ctx, tx, "stock"))
	require.NoError(e.t, tx.Commit())
	require.Empty(e.t, names())
}

func testTopicOutboxAndOrder(e *env) {
	e.subscribe(queue.Subscription{Name: "stock", Pattern: "orders.#", Queue: "stock", Kind: "k"})
	e.subscribe(queue.Subscription{Name: "erp", Pattern: "orders.#", Queue: "stock", Kind: "k2"})
	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	_, err = e.q.PublishTx(e.ctx, tx, queue.Event{Topic: "orders.created"})
	require.NoError(e.t, err)
	require.NoError(e.t, tx.Rollback())
	topics, err := e.q.Topics().List(e.ctx)
	require.NoError(e.t, err)
	require.Empty(e.t, topics, "a rolled-back publish leaves no event")
	require.Empty(e.t, e.jobsIn("stock"), "and no job")

	// Events of one key stay in order per subscription; subscriptions on the
	// same queue do not wait on each other.
	e.publish(queue.Event{Topic: "orders.created", OrderKey: "order:7"})
	e.publish(queue.Event{Topic: "orders.paid", OrderKey: "order:7"})
	jobs := e.lease("stock", 10)
	require.Len(e.t, jobs, 2, "one per subscription: the second events wait")
	keys := []string{jobs[0].OrderKey, jobs[1].OrderKey}
	require.ElementsMatch(e.t, []string{"stock:order:7", "erp:order:7"}, keys)
	require.Equal(e.t, "1", jobs[0].Metadata["spool.seq"])
}

// Subscribe is idempotent: an app subscribes at every start, from several
// processes at once. The same definition again is a no-op that keeps the
// subscription's place in the log; another definition under the same name
// is refused with an error naming what differs, and UpdateSubscription
// changes it on purpose.
func testTopicSubscribeIdempotent(e *env) {
	e.topicStore()
	sub := queue.Subscription{Name: "mail", Pattern: "orders.*", Filter: map[string]string{"channel": "web"}, Kind: "email.receipt", Priority: 3, MaxAttempts: 7}
	e.subscribe(sub)
	require.Equal(e.t, 1, e.publish(queue.Event{Topic: "orders.created", Metadata: map[string]string{"channel": "web"}}).Jobs)
	only := func() queue.SubscriptionInfo {
		e.t.Helper()
		subs, err := e.q.Topics().Subscriptions(e.ctx)
		require.NoError(e.t, err)
		require.Len(e.t, subs, 1)
		return subs[0]
	}
	before := only()

	// A restart: the same definition (the default queue spelt out, From
	// set) changes nothing and delivers no backlog again.
	again := sub
	again.Queue = queue.DefaultQueue
	again.Filter = map[string]string{"channel": "web"}
	again.From = queue.StartAt{Beginning: true}
	require.NoError(e.t, e.q.Topics().Subscribe(e.ctx, again))
	require.Equal(e.t, before, only())
	n, err := e.q.Topics().DeliverBacklog(e.ctx, 100)
	require.NoError(e.t, err)
	require.Zero(e.t, n)
	require.Len(e.t, e.jobsIn(queue.DefaultQueue), 1)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = e.q.Topics().Subscribe(e.ctx, sub) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(e.t, err, "processes starting at once")
	}
	require.Equal(e.t, before, only())

	// Another definition: refused, naming what differs; nothing changes.
	changed := sub
	changed.Kind, changed.Filter, changed.Priority = "email.send", nil, 5
	err = e.q.Topics().Subscribe(e.ctx, changed)
	require.ErrorIs(e.t, err, queue.ErrSubscriptionChanged)
	var ce *queue.SubscriptionChangedError
	require.ErrorAs(e.t, err, &ce)
	require.Equal(e.t, "mail", ce.Name)
	require.Equal(e.t, "email.receipt", ce.Stored.Kind)
	require.Equal(e.t, "email.send", ce.Given.Kind)
	for _, want := range []string{`subscription "mail"`, `Filter {"channel": "web"} -> {}`, `Kind "email.receipt" -> "email.send"`, "Priority 3 -> 5", "UpdateSubscription"} {
		require.Contains(e.t, err.Error(), want)
	}
	require.NotContains(e.t, err.Error(), "MaxAttempts", "only what differs")
	tx, err := e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	require.ErrorIs(e.t, e.q.Topics().SubscribeTx(e.ctx, tx, changed), queue.ErrSubscriptionChanged)
	require.NoError(e.t, tx.Rollback())
	require.Equal(e.t, before, only())

	// UpdateSubscription changes it, keeping its place in the log; a
	// rolled-back update changes nothing.
	tx, err = e.db.BeginTx(e.ctx, nil)
	require.NoError(e.t, err)
	require.NoError(e.t, e.q.Topics().UpdateSubscriptionTx(e.ctx, tx, changed))
	require.NoError(e.t, tx.Rollback())
	require.Equal(e.t, before, only())
	require.NoError(e.t, e.q.Topics().UpdateSubscription(e.ctx, changed))
	after := only()
	require.Equal(e.t, before.Cursor, after.Cursor)
	require.Equal(e.t, before.CreatedAt, after.CreatedAt)
	require.Empty(e.t, after.Diff(changed))
	require.Equal(e.t, 1, e.publish(queue.Event{Topic: "orders.paid"}).Jobs, "no filter now")
	jobs := e.jobsIn(queue.DefaultQueue)
	require.Len(e.t, jobs, 2)
	require.Equal(e.t, "email.send", jobs[1].Kind)
	require.Equal(e.t, 5, jobs[1].Priority)
	require.Equal(e.t, "email.receipt", jobs[0].Kind, "a delivered job stays as it was")
	require.NoError(e.t, e.q.Topics().Subscribe(e.ctx, changed), "the new definition is now the stored one")
	require.ErrorIs(e.t, e.q.Topics().Subscribe(e.ctx, sub), queue.ErrSubscriptionChanged)

	require.ErrorIs(e.t, e.q.Topics().UpdateSubscription(e.ctx, queue.Subscription{Name: "nope", Pattern: "x", Kind: "k"}), queue.ErrSubscriptionNotFound)
	require.ErrorIs(e.t, e.q.Topics().UpdateSubscription(e.ctx, queue.Subscription{Name: "mail", Pattern: "x.y*", Kind: "k"}), queue.ErrInvalidArgument)
	require.Equal(e.t, after.Subscription, only().Subscription)
}

// Events reads one topic's log oldest first, by sequence range, by publish
// time and up to Limit, with each event as published.
func testTopicEvents(e *env) {
	ts := e.topicStore()
	for i := range 6 {
		e.publish(queue.Event{Topic: "stock.changed", Args: i, OrderKey: "sku:1", Metadata: map[string]string{"n": fmt.Sprint(i)}})
		e.publish(queue.Event{Topic: "stock.other", Args: i})
		e.clock.Advance(time.Minute)
	}
	read := func(f queue.EventFilter) []int64 {
		e.t.Helper()
		f.Topic = "stock.changed"
		if f.Limit == 0 {
			f.Limit = 100
		}
		events, err := ts.Events(e.ctx, f)
		require.NoError(e.t, err)
		var out []int64
		for _, ev := range events {
			out = append(out, ev.Seq)
		}
		return out
	}
	require.Equal(e.t, []int64{1, 2, 3, 4, 5, 6}, read(queue.EventFilter{}))
	require.Equal(e.t, []int64{2, 3}, read(queue.EventFilter{FromSeq: 2, ToSeq: 3}))
	require.Equal(e.t, []int64{5, 6}, read(queue.EventFilter{FromSeq: 5}))
	require.Equal(e.t, []int64{1, 2}, read(queue.EventFilter{Limit: 2}))
	require.Equal(e.t, []int64{3, 4}, read(queue.EventFilter{Since: t0.Add(90 * time.Second), Until: t0.Add(210 * time.Second)}))
	require.Equal(e.t, []int64{4, 5}, read(queue.EventFilter{Since: t0.Add(150 * time.Second), Limit: 2}))

	events, err := ts.Events(e.ctx, queue.EventFilter{Topic: "stock.changed", FromSeq: 4, ToSeq: 4, Limit: 10})
	require.NoError(e.t, err)
	require.Len(e.t, events, 1)
	ev := events[0]
	require.Equal(e.t, "stock.changed", ev.Topic)
	require.True(e.t, ev.PublishedAt.Equal(t0.Add(3*time.Minute)), "published %s", ev.PublishedAt)
	require.Equal(e.t, "sku:1", ev.OrderKey)
	require.Equal(e.t, map[string]string{"n": "3"}, ev.Metadata)
	require.Equal(e.t, "3", string(ev.Payload))
	require.NotZero(e.t, ev.ID)
}

// testTopicGet: one topic by name is the topic List shows, read alone;
// a topic no event was published to is ErrTopicNotFound.
func testTopicGet(e *env) {
	ts := e.topicStore()
	_, err := ts.Topic(e.ctx, "orders.created")
	require.ErrorIs(e.t, err, queue.ErrTopicNotFound, "before any event")
	for i := range 5 {
		e.publish(queue.Event{Topic: "orders.created", Args: i})
	}
	e.publish(queue.Event{Topic: "orders.cancelled", Args: 1})
	e.publish(queue.Event{Topic: "orders/eu.created", Args: 1})
	require.NoError(e.t, e.q.Topics().SetRetention(e.ctx, "orders.created", queue.Retention{MaxEvents: 2, MaxAge: time.Hour}))
	_, err = e.q.Topics().PruneEvents(e.ctx, 100)
	require.NoError(e.t, err)

	all, err := e.q.Topics().List(e.ctx)
	require.NoError(e.t, err)
	require.Len(e.t, all, 3)
	for _, want := range all {
		got, err := e.q.Topics().Get(e.ctx, want.Name)
		require.NoError(e.t, err, want.Name)
		require.Equal(e.t, want, got, want.Name)
	}
	got, err := ts.Topic(e.ctx, "orders.created")
	require.NoError(e.t, err)
	require.Equal(e.t, queue.TopicInfo{Name: "orders.created", LastSeq: 5, FirstSeq: 4, Events: 2,
		Retention: queue.Retention{MaxEvents: 2, MaxAge: time.Hour}}, got)

	for _, name := range []string{"orders", "orders.created.x", "Orders.created"} {
		_, err := e.q.Topics().Get(e.ctx, name)
		require.ErrorIs(e.t, err, queue.ErrTopicNotFound, name)
	}
	_, err = e.q.Topics().Get(e.ctx, "")
	require.ErrorIs(e.t, err, queue.ErrInvalidArgument)
}

// Publishes from many goroutines (a store may write them together) while
// another process subscribes and unsubscribes: every event goes to each
// subscription caught up when it is published, exactly once. A
// subscription added by the other process gets every event from some
// point on, at the latest from the first publish begun after Subscribe
// returned; one it removed gets every event up to some point, and none
// begun after Unsubscribe returned. Each publish counts its own jobs, and
// the topic's sequence numbers have no gap.
func testTopicPeerSubscriptions(e *env) {
	e.topicStore()
	peer, err := queue.New(e.peerStore(), queue.Options{Now: e.clock.Now})
	require.NoError(e.t, err)
	e.subscribe(queue.Subscription{Name: "all", Pattern: "orders.#", Queue: "all", Kind: "k"})
	e.subscribe(queue.Subscription{Name: "gone", Pattern: "orders.*", Queue: "gone", Kind: "k"})

	const publishers, each = 8, 40
	type sent struct {
		res                queue.PublishResult
		afterSub, afterUns bool // begun after Subscribe, Unsubscribe returned
	}
	var (
		mu        sync.Mutex
		all       []sent
		subbed    atomic.Bool
		unsubbed  atomic.Bool
		published = make(chan struct{}, publishers*each)
		wg        sync.WaitGroup
	)
	for range publishers {
		wg.Go(func() {
			for range each {
				s := sent{afterSub: subbed.Load(), afterUns: unsubbed.Load()}
				r, err := e.q.Publish(e.ctx, queue.Event{Topic: "orders.created"})
				if err != nil {
					e.t.Error(err)
					return
				}
				s.res = r
				mu.Lock()
				all = append(all, s)
				mu.Unlock()
				published <- struct{}{}
			}
		})
	}
	wait := func(n int) {
		for range n {
			<-published
		}
	}
	wait(publishers * each / 4)
	require.NoError(e.t, peer.Topics().Subscribe(e.ctx, queue.Subscription{Name: "late", Pattern: "orders.created", Queue: "late", Kind: "k"}))
	subbed.Store(true)
	wait(publishers * each / 4)
	require.NoError(e.t, peer.Topics().Unsubscribe(e.ctx, "gone"))
	unsubbed.Store(true)
	wg.Wait()
	require.Len(e.t, all, publishers*each)

	delivered := func(q string) map[int64]bool {
		e.t.Helper()
		list, err := e.store.List(e.ctx, queue.ListFilter{Queue: q, Limit: 2 * publishers * each})
		require.NoError(e.t, err)
		got := map[int64]bool{}
		for _, j := range list {
			id, err := strconv.ParseInt(j.Metadata[queue.MetadataEventID], 10, 64)
			require.NoError(e.t, err)
			require.False(e.t, got[id], "event %d delivered twice to %s", id, q)
			got[id] = true
		}
		return got
	}
	sets := map[string]map[int64]bool{"all": delivered("all"), "late": delivered("late"), "gone": delivered("gone")}
	slices.SortFunc(all, func(a, b sent) int { return cmp.Compare(a.res.EventID, b.res.EventID) })
	seqs := map[int64]bool{}
	for i, s := range all {
		require.False(e.t, seqs[s.res.Seq], "seq %d twice", s.res.Seq)
		seqs[s.res.Seq] = true
		if i > 0 {
			require.Greater(e.t, s.res.EventID, all[i-1].res.EventID)
		}
		jobs := 0
		for _, set := range sets {
			if set[s.res.EventID] {
				jobs++
			}
		}
		require.Equal(e.t, jobs, s.res.Jobs, "event %d's jobs", s.res.EventID)
		require.True(e.t, sets["all"][s.res.EventID], "event %d to all", s.res.EventID)
		if s.afterSub {
			require.True(e.t, sets["late"][s.res.EventID], "event %d, published after Subscribe returned", s.res.EventID)
		}
		if s.afterUns {
			require.False(e.t, sets["gone"][s.res.EventID], "event %d, published after Unsubscribe returned", s.res.EventID)
		}
		if i > 0 && sets["late"][all[i-1].res.EventID] {
			require.True(e.t, sets["late"][s.res.EventID], "late has every event from its first one (event %d)", s.res.EventID)
		}
		if i > 0 && !sets["gone"][all[i-1].res.EventID] {
			require.False(e.t, sets["gone"][s.res.EventID], "gone has no event after its last one (event %d)", s.res.EventID)
		}
	}
	for n := int64(1); n <= publishers*each; n++ {
		require.True(e.t, seqs[n], "seq %d missing", n)
	}
	require.NotEmpty(e.t, sets["late"])
	require.NotEmpty(e.t, sets["gone"])
}
