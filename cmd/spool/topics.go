package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/spooljobs/spool/internal/wire"
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
		return writeJSON(stdout, wire.NewTopics(list))
	}
	tw := newTable(stdout)
	row(tw, "TOPIC", "LAST SEQ", "FIRST SEQ", "EVENTS", "RETENTION")
	for _, t := range list {
		var ret []string
		if t.Retention.MaxAge > 0 {
			ret = append(ret, fmtDuration(t.Retention.MaxAge))
		}
		if t.Retention.MaxEvents > 0 {
			ret = append(ret, plural(t.Retention.MaxEvents, "event"))
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
		return writeJSON(stdout, wire.NewSubscriptions(list))
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

Events prints a topic's retained events, oldest first, by sequence number;
with -newest, the latest -limit events, newest first. A full page ends
with a hint on stderr for the next one (-from, or -to with -newest).

Flags:
`

func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("events", eventsAbout, stderr, true)
	var f queue.EventFilter
	c.fs.Int64Var(&f.FromSeq, "from", 0, "first sequence number `N` to show (default: the oldest retained)")
	c.fs.Int64Var(&f.ToSeq, "to", 0, "last sequence number `M` to show (default: the newest)")
	c.fs.IntVar(&f.Limit, "limit", 100, "show at most `N` events (1 to 1000)")
	c.fs.StringVar(&f.Topic, "topic", "", "the `topic`, as for replay (or give it as the argument)")
	newest := c.fs.Bool("newest", false, "show the newest events first: the last -limit events up to -to")
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
	topic, err := knownTopic(ctx, d, f.Topic)
	if err != nil {
		return err
	}
	if *newest {
		return newestEvents(ctx, c, d, topic, f, stdout, stderr)
	}
	list, err := d.q.Topics().Events(ctx, f)
	if err != nil {
		return storeError(err, "")
	}
	var next int64
	if len(list) == f.Limit {
		next = list[len(list)-1].Seq + 1
	}
	if c.json {
		return writeJSON(stdout, wire.NewEventPage(f.Topic, list, next))
	}
	if err := listEvents(stdout, list); err != nil {
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

// newestEventPage is a page of events newest first: NextTo, when set, is
// the sequence number to pass as -to for the next (older) page.
type newestEventPage struct {
	wire.EventPage
	NextTo int64 `json:"next_to,omitempty"`
}

// newestEvents is 'spool events -newest': the last f.Limit events of the
// range f.FromSeq..f.ToSeq, newest first. Sequence numbers within a topic
// have no gaps, so the page's range follows from the topic's last and
// first retained sequence numbers.
func newestEvents(ctx context.Context, c *cmdline, d *db, topic queue.TopicInfo, f queue.EventFilter, stdout, stderr io.Writer) error {
	hi := topic.LastSeq
	if f.ToSeq > 0 {
		hi = min(hi, f.ToSeq)
	}
	lo := max(f.FromSeq, topic.FirstSeq, 1)
	var list []queue.EventRecord
	var next int64
	if hi >= lo {
		f.FromSeq, f.ToSeq = max(lo, hi-int64(f.Limit)+1), hi
		var err error
		if list, err = d.q.Topics().Events(ctx, f); err != nil {
			return storeError(err, "")
		}
		slices.Reverse(list)
		if f.FromSeq > lo {
			next = f.FromSeq - 1
		}
	}
	if c.json {
		return writeJSON(stdout, newestEventPage{EventPage: wire.NewEventPage(f.Topic, list, 0), NextTo: next})
	}
	if err := listEvents(stdout, list); err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(stderr, "no events in this range")
	}
	if next != 0 {
		fmt.Fprintf(stderr, "more: add -to %d for the next page\n", next)
	}
	return nil
}

// listEvents prints events as the events command's table.
func listEvents(stdout io.Writer, list []queue.EventRecord) error {
	tw := newTable(stdout)
	row(tw, "SEQ", "ID", "PUBLISHED", "ORDER KEY", "PAYLOAD")
	for _, e := range list {
		key := e.OrderKey
		if key == "" {
			key = "-"
		}
		payload := string(e.Payload)
		if !utf8.Valid(e.Payload) {
			payload = fmt.Sprintf("(%s of binary data)", plural(len(e.Payload), "byte"))
		}
		row(tw, e.Seq, e.ID, fmtTime(e.PublishedAt), oneLine(key, 30), oneLine(payload, 80))
	}
	return tw.Flush()
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

// knownTopic returns the named topic, or exit status 3 for a topic the log
// does not know.
func knownTopic(ctx context.Context, d *db, topic string) (queue.TopicInfo, error) {
	t, err := d.q.Topics().Get(ctx, topic)
	if errors.Is(err, queue.ErrTopicNotFound) {
		return queue.TopicInfo{}, notFoundf("unknown topic %q", topic)
	}
	return t, err
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
	// The store checks that the subscription and the topic exist (exit
	// status 3), that the subscription receives the topic and that the
	// range lies within the retained log (a usage error).
	n, err := d.q.Topics().Replay(ctx, name, f)
	if err != nil {
		return storeError(err, name)
	}
	if c.json {
		return writeJSON(stdout, wire.ReplayResult{Subscription: name, Topic: f.Topic, From: f.FromSeq, To: f.ToSeq, Jobs: n})
	}
	_, err = fmt.Fprintf(stdout, "replayed %s of %s to subscription %s\n", plural(n, "event"), f.Topic, name)
	return err
}
