package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// topics, subs and events list the topics, the subscriptions with their
// backlog and lag, and a topic's events (paged with -limit and -from);
// replay delivers again only the events whose jobs are no longer live.
func TestCLITopics(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := ok(t, "topics", "-db", f.path)
	columnsAligned(t, r.stdout, "TOPIC", "LAST SEQ", "EVENTS")
	require.Contains(t, r.stdout, fixtureTopic)
	var topics struct {
		Topics []struct {
			Name     string `json:"name"`
			LastSeq  int64  `json:"last_seq"`
			FirstSeq int64  `json:"first_seq"`
			Events   int    `json:"events"`
		} `json:"topics"`
	}
	okJSON(t, &topics, "topics", "-db", f.path)
	require.Len(t, topics.Topics, 1)
	require.Equal(t, fixtureTopic, topics.Topics[0].Name)
	require.EqualValues(t, 2, topics.Topics[0].LastSeq)
	require.EqualValues(t, 1, topics.Topics[0].FirstSeq)
	require.Equal(t, 2, topics.Topics[0].Events)

	r = ok(t, "subs", "-db", f.path)
	columnsAligned(t, r.stdout, "NAME", "PATTERN", "QUEUE", "CURSOR", "BACKLOG", "LAG")
	require.Contains(t, r.stdout, fixtureSub)
	type subsOut struct {
		Subscriptions []struct {
			Name    string `json:"name"`
			Pattern string `json:"pattern"`
			Queue   string `json:"queue"`
			Kind    string `json:"kind"`
			Cursor  int64  `json:"cursor"`
			Backlog int    `json:"backlog"`
			Lag     int    `json:"lag"`
		} `json:"subscriptions"`
	}
	var subs subsOut
	okJSON(t, &subs, "subs", "-db", f.path)
	require.Len(t, subs.Subscriptions, 1)
	sub := subs.Subscriptions[0]
	require.Equal(t, fixtureSub, sub.Name)
	require.Equal(t, "orders.*", sub.Pattern)
	require.Equal(t, "notify", sub.Queue)
	require.Positive(t, sub.Cursor)
	require.Equal(t, 0, sub.Backlog)
	require.Equal(t, 2, sub.Lag, "two delivered events wait to be handled")

	type eventsOut struct {
		Events []struct {
			Seq     int64          `json:"seq"`
			Topic   string         `json:"topic"`
			Payload map[string]any `json:"payload"`
		} `json:"events"`
		NextFrom int64 `json:"next_from"`
	}
	var ev eventsOut
	okJSON(t, &ev, "events", fixtureTopic, "-db", f.path)
	require.Len(t, ev.Events, 2)
	require.EqualValues(t, 1, ev.Events[0].Seq)
	require.Equal(t, 1.0, ev.Events[0].Payload["order"])
	require.Zero(t, ev.NextFrom)
	ev = eventsOut{}
	okJSON(t, &ev, "events", fixtureTopic, "-db", f.path, "-limit", "1")
	require.Len(t, ev.Events, 1)
	require.EqualValues(t, 2, ev.NextFrom)
	ev = eventsOut{}
	okJSON(t, &ev, "events", fixtureTopic, "-db", f.path, "-from", "2")
	require.Len(t, ev.Events, 1)
	require.EqualValues(t, 2, ev.Events[0].Seq)
	ev = eventsOut{}
	okJSON(t, &ev, "events", "-db", f.path, "-topic", fixtureTopic, "-from", "2")
	require.Len(t, ev.Events, 1, "-topic, as replay takes it")
	fails(t, 2, "missing TOPIC", "events", "-db", f.path)
	fails(t, 2, "two topics", "events", "-db", f.path, "-topic", "orders.x", fixtureTopic)
	r = ok(t, "events", fixtureTopic, "-db", f.path)
	columnsAligned(t, r.stdout, "SEQ", "ID", "PUBLISHED", "PAYLOAD")
	require.Contains(t, r.stdout, `{"order":2}`)

	// Replay: events whose jobs are still live are not delivered twice;
	// once handled (here: deleted), they are.
	var rep struct {
		Subscription string `json:"subscription"`
		Topic        string `json:"topic"`
		Jobs         int    `json:"jobs"`
	}
	okJSON(t, &rep, "replay", fixtureSub, "-topic", fixtureTopic, "-db", f.path)
	require.Equal(t, 0, rep.Jobs)
	jobs, err := f.q.Inspector().List(ctx, queue.ListFilter{Queue: "notify"})
	require.NoError(t, err)
	require.Len(t, jobs, 2)
	for _, j := range jobs {
		require.NoError(t, f.q.Inspector().Delete(ctx, j.ID))
	}
	r = ok(t, "replay", fixtureSub, "-topic", fixtureTopic, "-from", "2", "-to", "2", "-db", f.path)
	require.Equal(t, "replayed 1 event of orders.created to subscription orders.mailer\n", r.stdout)
	jobs, err = f.q.Inspector().List(ctx, queue.ListFilter{Queue: "notify"})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	require.JSONEq(t, `{"order":2}`, string(jobs[0].Payload))
	fails(t, 2, `subscription "orders.mailer" (pattern "orders.*") does not receive topic "orders.shipped.late"`,
		"replay", fixtureSub, "-topic", "orders.shipped.late", "-db", f.path)
}

// events -newest shows the last -limit events newest first, paged toward
// older ones with -to; -from bounds it below.
func TestCLIEventsNewest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := 3; i <= 5; i++ {
		_, err := f.q.Publish(context.Background(), queue.Event{Topic: fixtureTopic, Args: map[string]int{"order": i}})
		require.NoError(t, err)
	}
	type page struct {
		Events []struct {
			Seq int64 `json:"seq"`
		} `json:"events"`
		NextFrom int64 `json:"next_from"`
		NextTo   int64 `json:"next_to"`
	}
	seqs := func(args ...string) ([]int64, int64) {
		t.Helper()
		var p page
		okJSON(t, &p, append([]string{"events", fixtureTopic, "-db", f.path, "-newest"}, args...)...)
		var s []int64
		for _, e := range p.Events {
			s = append(s, e.Seq)
		}
		require.Zero(t, p.NextFrom)
		return s, p.NextTo
	}
	got, next := seqs("-limit", "2")
	require.Equal(t, []int64{5, 4}, got)
	require.EqualValues(t, 3, next)
	got, next = seqs("-limit", "2", "-to", "3")
	require.Equal(t, []int64{3, 2}, got)
	require.EqualValues(t, 1, next)
	got, next = seqs("-limit", "2", "-to", "1")
	require.Equal(t, []int64{1}, got)
	require.Zero(t, next)
	got, next = seqs("-from", "4")
	require.Equal(t, []int64{5, 4}, got)
	require.Zero(t, next)
	got, _ = seqs()
	require.Equal(t, []int64{5, 4, 3, 2, 1}, got)

	r := ok(t, "events", fixtureTopic, "-db", f.path, "-newest", "-limit", "3")
	columnsAligned(t, r.stdout, "SEQ", "ID", "PUBLISHED", "PAYLOAD")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 4)
	require.True(t, strings.HasPrefix(lines[1], "5 "), "newest first:\n%s", r.stdout)
	require.True(t, strings.HasPrefix(lines[3], "3 "), "newest first:\n%s", r.stdout)
	require.Contains(t, r.stderr, "more: add -to 2 for the next page")
}
