package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spooljobs/spool/queue"
)

// The topic commands: topics, subs, events, replay.

var (
	topicsCommand = &command{name: "topics", summary: "list the topics of the event log", run: runTopics}
	subsCommand   = &command{name: "subs", summary: "list subscriptions with their cursor, backlog and lag", run: runSubs}
	eventsCommand = &command{name: "events", summary: "read a topic's event log", run: runEvents}
	replayCommand = &command{name: "replay", summary: "deliver a topic's past events again to one subscription",
		run: runReplay}
)

type topicJSON struct {
	Name      string `json:"name"`
	LastSeq   int64  `json:"last_seq"`
	FirstSeq  int64  `json:"first_seq"`
	Events    int    `json:"events"`
	Retention struct {
		MaxAgeSeconds float64 `json:"max_age_seconds"`
		MaxEvents     int     `json:"max_events"`
	} `json:"retention"`
}

type subJSON struct {
	Name        string            `json:"name"`
	Pattern     string            `json:"pattern"`
	Filter      map[string]string `json:"filter,omitempty"`
	Queue       string            `json:"queue"`
	Kind        string            `json:"kind"`
	Priority    int               `json:"priority"`
	MaxAttempts int               `json:"max_attempts"`
	CreatedAt   time.Time         `json:"created_at"`
	Cursor      int64             `json:"cursor"`
	Backlog     int               `json:"backlog"`
	Lag         int               `json:"lag"`
}

type eventJSON struct {
	ID              int64             `json:"id"`
	Topic           string            `json:"topic"`
	Seq             int64             `json:"seq"`
	PublishedAt     time.Time         `json:"published_at"`
	OrderKey        string            `json:"order_key,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	PayloadEncoding string            `json:"payload_encoding"`
	Payload         any               `json:"payload"`
}

const topicsAbout = `Usage: spool topics [flags]

Topics lists the topics of the event log: the latest sequence number, the
retained events (from the first retained sequence number on) and the
topic's retention (-: keep every event).

Flags:
`

func runTopics(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("topics", topicsAbout, stderr, true)
	if _, err := c.parse(args); err != nil {
		return err
	}
	d, err := c.openRead(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	list, err := d.q.Topics().List(ctx)
	if err != nil {
		return err
	}
	if c.json {
		out := struct {
			Topics []topicJSON `json:"topics"`
		}{Topics: []topicJSON{}}
		for _, t := range list {
			j := topicJSON{Name: t.Name, LastSeq: t.LastSeq, FirstSeq: t.FirstSeq, Events: t.Events}
			j.Retention.MaxAgeSeconds = t.Retention.MaxAge.Seconds()
			j.Retention.MaxEvents = t.Retention.MaxEvents
			out.Topics = append(out.Topics, j)
		}
		return writeJSON(stdout, out)
	}
	tw := newTable(stdout)
	row(tw, "TOPIC", "LAST SEQ", "FIRST SEQ", "EVENTS", "RETENTION")
	for _, t := range list {
		var ret []string
		if t.Retention.MaxAge > 0 {
			ret = append(ret, fmtDuration(t.Retention.MaxAge))
		}
		if t.Retention.MaxEvents > 0 {
			ret = append(ret, fmt.Sprintf("%d events", t.Retention.MaxEvents))
		}
		if len(ret) == 0 {
			ret = []string{"-"}
		}
		row(tw, t.Name, t.LastSeq, t.FirstSeq, t.Events, strings.Join(ret, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(stderr, "no topics")
	}
	return nil
}

const subsAbout = `Usage: spool subs [flags]

Subs lists the subscriptions: the pattern (and metadata filter) they
receive, the queue and kind of their jobs, their cursor (the ID of the
last event delivered), their backlog (matching events not yet delivered)
and their lag (delivered events whose jobs are not yet handled).

Flags:
`

func runSubs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("subs", subsAbout, stderr, true)
	if _, err := c.parse(args); err != nil {
		return err
	}
	d, err := c.openRead(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	list, err := d.q.Topics().Subscriptions(ctx)
	if err != nil {
		return err
	}
	if c.json {
		out := struct {
			Subscriptions []subJSON `json:"subscriptions"`
		}{Subscriptions: []subJSON{}}
		for _, s := range list {
			out.Subscriptions = append(out.Subscriptions, subJSON{Name: s.Name, Pattern: s.Pattern, Filter: s.Filter,
				Queue: s.Queue, Kind: s.Kind, Priority: s.Priority, MaxAttempts: s.MaxAttempts,
				CreatedAt: s.CreatedAt.UTC(), Cursor: s.Cursor, Backlog: s.Backlog, Lag: s.Lag})
		}
		return writeJSON(stdout, out)
	}
	tw := newTable(stdout)
	row(tw, "NAME", "PATTERN", "FILTER", "QUEUE", "KIND", "CURSOR", "BACKLOG", "LAG")
	for _, s := range list {
		filter := "-"
		if len(s.Filter) > 0 {
			var kv []string
			for _, k := range sortedKeys(s.Filter) {
				kv = append(kv, k+"="+s.Filter[k])
			}
			filter = oneLine(strings.Join(kv, ","), 40)
		}
		row(tw, s.Name, s.Pattern, filter, s.Queue, s.Kind, s.Cursor, s.Backlog, s.Lag)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(stderr, "no subscriptions")
	}
	return nil
}

const eventsAbout = `Usage: spool events [flags] TOPIC
       spool events -topic TOPIC [flags]

Events prints a topic's retained events, oldest first, by sequence number.
A full page ends with a hint on stderr for the next one (-from).

Flags:
`

func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("events", eventsAbout, stderr, true)
	var f queue.EventFilter
	c.fs.Int64Var(&f.FromSeq, "from", 0, "first sequence number `N` to show (default: the oldest retained)")
	c.fs.Int64Var(&f.ToSeq, "to", 0, "last sequence number `M` to show (default: the newest)")
	c.fs.IntVar(&f.Limit, "limit", 100, "show at most `N` events (1 to 1000)")
	c.fs.StringVar(&f.Topic, "topic", "", "the `topic`, as for replay (or give it as the argument)")
	pos, err := c.parse(args, "TOPIC?")
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 1 && f.Topic != "" && pos[0] != f.Topic:
		return usageErrorf("two topics: %s and -topic %s", pos[0], f.Topic)
	case len(pos) == 1:
		f.Topic = pos[0]
	case f.Topic == "":
		return usageErrorf("missing TOPIC")
	}
	if err := checkSeqRange(f.Topic, f.FromSeq, f.ToSeq); err != nil {
		return err
	}
	if f.Limit < 1 || f.Limit > 1000 {
		return usageErrorf("-limit %d is outside 1..1000", f.Limit)
	}
	d, err := c.openRead(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := knownTopic(ctx, d, f.Topic); err != nil {
		return err
	}
	list, err := d.q.Topics().Events(ctx, f)
	if err != nil {
		return storeError(err)
	}
	var next int64
	if len(list) == f.Limit {
		next = list[len(list)-1].Seq + 1
	}
	if c.json {
		out := struct {
			Events  []eventJSON `json:"events"`
			NextSeq int64       `json:"next_from,omitempty"`
		}{Events: []eventJSON{}, NextSeq: next}
		for _, e := range list {
			enc, p := queue.PayloadJSON(e.Payload)
			out.Events = append(out.Events, eventJSON{ID: e.ID, Topic: e.Topic, Seq: e.Seq, PublishedAt: e.PublishedAt.UTC(),
				OrderKey: e.OrderKey, Metadata: e.Metadata, PayloadEncoding: enc, Payload: p})
		}
		return writeJSON(stdout, out)
	}
	tw := newTable(stdout)
	row(tw, "SEQ", "ID", "PUBLISHED", "ORDER KEY", "PAYLOAD")
	for _, e := range list {
		key := e.OrderKey
		if key == "" {
			key = "-"
		}
		payload := string(e.Payload)
		if !utf8.Valid(e.Payload) {
			payload = fmt.Sprintf("(%d bytes of binary data)", len(e.Payload))
		}
		row(tw, e.Seq, e.ID, fmtTime(e.PublishedAt), oneLine(key, 30), oneLine(payload, 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(stderr, "no events in this range")
	}
	if next != 0 {
		fmt.Fprintf(stderr, "more: add -from %d for the next page\n", next)
	}
	return nil
}

// checkSeqRange checks a topic name and a -from/-to sequence range.
func checkSeqRange(topic string, from, to int64) error {
	switch err := queue.ValidTopic(topic); {
	case err != nil:
		return usageErrorf("TOPIC: %v", err)
	case from < 0:
		return usageErrorf("-from %d is negative", from)
	case to < 0:
		return usageErrorf("-to %d is negative", to)
	case to > 0 && to < from:
		return usageErrorf("-to %d is before -from %d", to, from)
	}
	return nil
}

// knownTopic returns exit status 3 for a topic the log does not know.
func knownTopic(ctx context.Context, d *db, topic string) error {
	topics, err := d.q.Topics().List(ctx)
	if err != nil {
		return err
	}
	for _, t := range topics {
		if t.Name == topic {
			return nil
		}
	}
	return notFoundf("unknown topic %q", topic)
}

const replayAbout = `Usage: spool replay [flags] SUBSCRIPTION -topic TOPIC [-from N] [-to M]

Replay delivers the events of TOPIC in the sequence range -from..-to (the
whole retained log by default; at most 10000 events per call) again to one
subscription, after a bug in its handler was fixed: one new job per event
the subscription received before. Other subscriptions see nothing, and an
event whose job is still live is not delivered twice.

Flags:
`

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("replay", replayAbout, stderr, true)
	var f queue.EventFilter
	c.fs.StringVar(&f.Topic, "topic", "", "the `topic` whose events to replay (required)")
	c.fs.Int64Var(&f.FromSeq, "from", 0, "first sequence number `N` (default: the oldest retained)")
	c.fs.Int64Var(&f.ToSeq, "to", 0, "last sequence number `M` (default: the newest)")
	pos, err := c.parse(args, "SUBSCRIPTION")
	if err != nil {
		return err
	}
	name := pos[0]
	if f.Topic == "" {
		return usageErrorf("-topic is required: the topic whose events to replay")
	}
	if err := checkSeqRange(f.Topic, f.FromSeq, f.ToSeq); err != nil {
		return err
	}
	d, err := c.openWrite(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	subs, err := d.q.Topics().Subscriptions(ctx)
	if err != nil {
		return err
	}
	var sub *queue.SubscriptionInfo
	for i := range subs {
		if subs[i].Name == name {
			sub = &subs[i]
		}
	}
	if sub == nil {
		return notFoundf("unknown subscription %q", name)
	}
	if !queue.MatchTopic(sub.Pattern, f.Topic) {
		return usageErrorf("-topic %s: subscription %s (pattern %s) does not receive it", f.Topic, name, sub.Pattern)
	}
	if err := knownTopic(ctx, d, f.Topic); err != nil {
		return err
	}
	n, err := d.q.Topics().Replay(ctx, name, f)
	if err != nil {
		return storeError(err)
	}
	if c.json {
		return writeJSON(stdout, struct {
			Subscription string `json:"subscription"`
			Topic        string `json:"topic"`
			Jobs         int    `json:"jobs"`
		}{name, f.Topic, n})
	}
	_, err = fmt.Fprintf(stdout, "replayed %d events of %s to subscription %s (queue %s, kind %s)\n", n, f.Topic, name, sub.Queue, sub.Kind)
	return err
}
