package postgres

// Group commit of publishes: publishes waiting together commit in one
// transaction with gap-free ids and seqs, each caller gets its own
// event's numbers and jobs, and one caller's bad event fails no one else.

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/queue"
)

// heldPublishStore opens a store on a fresh schema, with one caught-up
// subscription to "orders.*", whose group writer runs no loop: publishes
// queue up until the test runs them as a group itself.
func heldPublishStore(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	url := pgtest.URL(t)
	s, err := Open(ctx, url, Options{Schema: pgtest.Schema(t, url)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Subscribe(ctx, nil, queue.Subscription{Name: "mail", Pattern: "orders.*", Queue: "mail", Kind: "email"}, time.Now()))
	s.pubGroup.close()
	held := &groupWriter{s: s, ops: make(chan *groupOp, 1024), quit: make(chan struct{}), done: make(chan struct{})}
	held.ctx, held.stop = context.WithCancel(context.Background())
	close(held.done) // no loop to wait for at Close
	s.pubGroup = held
	return s
}

// published is one Publish running in its own goroutine.
type published struct {
	ev   queue.Event
	res  queue.PublishResult
	err  error
	done chan struct{}
}

// publishAll starts a Publish per event and waits until the group writer
// holds all of them.
func publishAll(t *testing.T, s *Store, events ...queue.Event) []*published {
	t.Helper()
	calls := make([]*published, len(events))
	for i, ev := range events {
		c := &published{ev: ev, done: make(chan struct{})}
		calls[i] = c
		go func() {
			defer close(c.done)
			c.res, c.err = s.Publish(context.Background(), nil, time.Now(), c.ev, queue.NewJob{MaxAttempts: 3})
		}()
	}
	require.Eventually(t, func() bool { return len(s.pubGroup.ops) == len(events) }, 10*time.Second, time.Millisecond)
	return calls
}

// runHeld runs every queued publish as one group and returns its size.
func runHeld(s *Store) int {
	group := s.pubGroup.gather(<-s.pubGroup.ops)
	s.pubGroup.run(group)
	return len(group)
}

func TestGroupCommitPublishesInOneTransaction(t *testing.T) {
	s := heldPublishStore(t)
	var events []queue.Event
	for i := range 30 {
		topic := "orders.created"
		if i%2 == 1 {
			topic = "orders.paid"
		}
		events = append(events, queue.Event{Topic: topic, Payload: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	calls := publishAll(t, s, events...)
	require.Equal(t, len(events), runHeld(s))
	var ids []int64
	seqs := map[string][]int64{}
	for _, c := range calls {
		<-c.done
		require.NoError(t, c.err)
		ids = append(ids, c.res.EventID)
		seqs[c.ev.Topic] = append(seqs[c.ev.Topic], c.res.Seq)
		require.Equal(t, 1, c.res.Jobs, "one delivery to the subscription")
		var topic, payload string
		require.NoError(t, s.db.QueryRowContext(context.Background(), s.sql(`SELECT topic, convert_from(payload, 'UTF8') FROM spool.events WHERE id = $1`), c.res.EventID).Scan(&topic, &payload))
		assert.Equal(t, c.ev.Topic, topic, "event %d is the caller's own", c.res.EventID)
		assert.Equal(t, string(c.ev.Payload), payload, "event %d is the caller's own", c.res.EventID)
	}
	assert.Equal(t, len(events), pending(t, s, "mail"))
	assertRun(t, ids, 1)
	for topic, got := range seqs {
		assertRun(t, got, 1)
		assert.Len(t, got, 15, topic)
	}
}

// A group appends its events with one statement: the event_log row and
// each topic's row are written once per group, not once per event (each
// write of a row leaves one more version of it in the table's page, whose
// newest ctid moves by one),
// and within a topic seqs follow ids, as one publish after another.
func TestGroupCommitAppendsEventsWithOneStatement(t *testing.T) {
	s := heldPublishStore(t)
	ctx := context.Background()
	publishAll(t, s, queue.Event{Topic: "orders.created", Payload: []byte(`{}`)}, queue.Event{Topic: "orders.paid", Payload: []byte(`{}`)})
	runHeld(s) // both topics exist now
	version := func(query string) int {
		var ctid string
		require.NoError(t, s.db.QueryRowContext(ctx, s.sql(query)).Scan(&ctid))
		var page, item int
		_, err := fmt.Sscanf(ctid, "(%d,%d)", &page, &item)
		require.NoError(t, err)
		return page<<16 | item
	}
	const logRow = `SELECT ctid::text FROM spool.event_log WHERE id = 1`
	const topicRows = `SELECT max(ctid)::text FROM spool.topics`
	logBefore, topicsBefore := version(logRow), version(topicRows)
	var events []queue.Event
	for i := range 20 {
		topic := "orders.created"
		if i%4 == 3 {
			topic = "orders.paid"
		}
		events = append(events, queue.Event{Topic: topic, Payload: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	calls := publishAll(t, s, events...)
	require.Equal(t, len(events), runHeld(s))
	for _, c := range calls {
		<-c.done
		require.NoError(t, c.err)
	}
	assert.Equal(t, 1, version(logRow)-logBefore, "the event_log row written once for the group")
	assert.Equal(t, 2, version(topicRows)-topicsBefore, "each of the two topics' rows written once for the group")
	rows, err := s.db.QueryContext(ctx, s.sql(`SELECT topic, seq FROM spool.events ORDER BY id`))
	require.NoError(t, err)
	last := map[string]int64{}
	for rows.Next() {
		var topic string
		var seq int64
		require.NoError(t, rows.Scan(&topic, &seq))
		require.Equal(t, last[topic]+1, seq, "topic %s: seqs follow ids", topic)
		last[topic] = seq
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, map[string]int64{"orders.created": 16, "orders.paid": 6}, last)
}

func TestGroupCommitBadPublishFailsAlone(t *testing.T) {
	s := heldPublishStore(t)
	calls := publishAll(t, s,
		queue.Event{Topic: "orders.created", Payload: []byte(`{"n":1}`)},
		queue.Event{Topic: "orders.nul\x00", Payload: []byte(`{}`)},
		queue.Event{Topic: "orders.created", Payload: []byte(`{"n":2}`)},
	)
	runHeld(s)
	var ids []int64
	for i, c := range calls {
		<-c.done
		if i == 1 {
			require.Error(t, c.err, "a topic PostgreSQL cannot store")
			continue
		}
		require.NoError(t, c.err)
		ids = append(ids, c.res.EventID)
	}
	assertRun(t, ids, 1)
}

// assertRun checks that got, sorted, is from, from+1, …: gap-free.
func assertRun(t *testing.T, got []int64, from int64) {
	t.Helper()
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	for i, v := range got {
		require.Equal(t, from+int64(i), v, "numbers %v have a gap or a repeat", got)
	}
}
