package admin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/spooljobs/spool/internal/wire"
	"github.com/spooljobs/spool/queue"
)

// Topics (issue 5): the event logs of the topics, the subscriptions with
// their backlog and lag, and replay of a range of a topic's events to one
// subscription.

// maxReplayEvents is the most events one replay covers (queue.Queue.Replay
// delivers at most that many per call).
const maxReplayEvents = 10000

type topicRow struct {
	queue.TopicInfo
	URL       string
	Retention string
}

type subView struct {
	queue.SubscriptionInfo
	Filter     []string // "key=value", sorted
	PatternURL string   // the log of the one topic a pattern without wildcards names
	ReplayURL  string
}

type topicsView struct {
	Topics     []topicRow
	TopicsPage namePage
	Subs       []subView
	SubsPage   namePage
	// Replay is the replay form of one subscription (?replay=name).
	Replay *replayView
}

type replayView struct {
	Sub    subView
	Topics []topicRow // the topics its pattern matches, at most MaxPageSize
	More   int        // matching topics left out
}

// retentionText describes a topic's retention: "7d · 10 000 newest".
func retentionText(r queue.Retention) string {
	var parts []string
	if r.MaxAge > 0 {
		parts = append(parts, shortDuration(r.MaxAge))
	}
	if r.MaxEvents > 0 {
		parts = append(parts, formatNum(r.MaxEvents)+" newest")
	}
	if len(parts) == 0 {
		return "keeps all"
	}
	return strings.Join(parts, " · ")
}

func (h *Handler) topicRow(t queue.TopicInfo) topicRow {
	return topicRow{TopicInfo: t, URL: h.url("/topics/" + t.Name), Retention: retentionText(t.Retention)}
}

// subView is a subscription's row; known says whether a topic is in the
// log (its pattern links to the topic's page when it names one that is).
func (h *Handler) subView(s queue.SubscriptionInfo, known func(topic string) bool) subView {
	v := subView{SubscriptionInfo: s, ReplayURL: h.url("/topics?replay=" + url.QueryEscape(s.Name) + "#replay")}
	for _, k := range slices.Sorted(maps.Keys(s.Filter)) {
		v.Filter = append(v.Filter, k+"="+s.Filter[k])
	}
	if !strings.ContainsAny(s.Pattern, "*#") {
		if known(s.Pattern) {
			v.PatternURL = h.url("/topics/" + s.Pattern)
		}
	}
	return v
}

// sortTopics sorts topics by name in Go's byte order, which the binary
// searches of this file need (a store may order by a collation of its
// own).
func sortTopics(topics []queue.TopicInfo) {
	cmp := func(a, b queue.TopicInfo) int { return strings.Compare(a.Name, b.Name) }
	if !slices.IsSortedFunc(topics, cmp) {
		slices.SortStableFunc(topics, cmp)
	}
}

// checkTopic validates a topic name from a path, form or body.
func checkTopic(name string) error {
	if name == "" {
		return errBadRequest("\"topic\" is required: the name of a topic, such as orders.created")
	}
	if err := queue.ValidTopic(name); err != nil {
		return errBadRequest("%v", err)
	}
	return nil
}

// inTopics returns whether a topic is in topics sorted by name
// (sortTopics).
func inTopics(topics []queue.TopicInfo) func(name string) bool {
	return func(name string) bool {
		_, ok := slices.BinarySearchFunc(topics, name, func(t queue.TopicInfo, name string) int { return strings.Compare(t.Name, name) })
		return ok
	}
}

// getTopic reads one topic of the log (not every topic, as listing would).
func (h *Handler) getTopic(ctx context.Context, name string) (queue.TopicInfo, error) {
	t, err := h.q.Topics().Get(ctx, name)
	if errors.Is(err, queue.ErrTopicNotFound) {
		return queue.TopicInfo{}, errNotFound(fmt.Sprintf("no topic %q: a topic appears once an event is published to it", name))
	}
	return t, err
}

func findSubscription(subs []queue.SubscriptionInfo, name string) (queue.SubscriptionInfo, error) {
	i := slices.IndexFunc(subs, func(s queue.SubscriptionInfo) bool { return s.Name == name })
	if i < 0 {
		return queue.SubscriptionInfo{}, errNotFound(fmt.Sprintf("no subscription %q", name))
	}
	return subs[i], nil
}

// loadTopics reads the topics (sorted by name) and the subscriptions.
func (h *Handler) loadTopics(ctx context.Context) ([]queue.TopicInfo, []queue.SubscriptionInfo, error) {
	topics, err := h.q.Topics().List(ctx)
	if err != nil {
		return nil, nil, err
	}
	sortTopics(topics)
	subs, err := h.q.Topics().Subscriptions(ctx)
	if err != nil {
		return nil, nil, err
	}
	return topics, subs, nil
}

func (h *Handler) topicsPage(w http.ResponseWriter, r *http.Request) error {
	p := readQuery(r, slices.Concat([]string{"replay", "after", "sub_after", "limit"}, flashNameKeys)...)
	replay := p.name("replay")
	after, limit := p.pageParams("after")
	subAfter := p.str("sub_after")
	fl := p.flash()
	if p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	topics, subs, err := h.loadTopics(ctx)
	if err != nil {
		return err
	}
	v := &topicsView{}
	shown, pg, next := pageByName(topics, func(t queue.TopicInfo) string { return t.Name }, after, limit)
	pg.links(after, next, func(a string) string { return h.topicsURL(a, subAfter, limit) })
	v.TopicsPage = pg
	for _, t := range shown {
		v.Topics = append(v.Topics, h.topicRow(t))
	}
	// Subscriptions: a page of their own, and their links need all topics.
	all := subs
	shownSubs, spg, snext := pageByName(slices.Clone(subs), func(s queue.SubscriptionInfo) string { return s.Name }, subAfter, limit)
	spg.links(subAfter, snext, func(a string) string { return h.topicsURL(after, a, limit) + "#subscriptions" })
	v.SubsPage = spg
	for _, s := range shownSubs {
		v.Subs = append(v.Subs, h.subView(s, inTopics(topics)))
	}
	if replay != "" && !h.opts.ReadOnly {
		s, err := findSubscription(all, replay)
		if err != nil {
			return err
		}
		v.Replay = &replayView{Sub: h.subView(s, inTopics(topics))}
		for _, t := range topics {
			if queue.MatchTopic(s.Pattern, t.Name) {
				if len(v.Replay.Topics) == MaxPageSize {
					v.Replay.More++
					continue
				}
				v.Replay.Topics = append(v.Replay.Topics, h.topicRow(t))
			}
		}
	}
	pg2 := h.newPage(w, r, "Topics", "topics", v)
	pg2.Flash = fl.Text()
	return h.render(w, r, http.StatusOK, "topics", "layout", pg2)
}

// topicsURL is the Topics page from the topic after and the subscription
// subAfter on.
func (h *Handler) topicsURL(after, subAfter string, limit int) string {
	v := url.Values{}
	if subAfter != "" {
		v.Set("sub_after", subAfter)
	}
	return h.pageURL("/topics", v, "after", after, limit)
}

// The event log of one topic, newest first, paged by sequence number.

type eventRow struct {
	queue.EventRecord
	Meta        []string // "key=value", sorted
	Preview     string
	Payload     string
	PayloadKind string
	Size        int
	PayloadURL  string // the whole payload, when the page shows only its start
}

type topicView struct {
	Topic     topicRow
	Events    []eventRow
	Subs      []subView // the subscriptions that receive the topic
	From, To  int64     // the sequence range shown
	Limit     int
	OlderURL  string
	NewestURL string
}

func (h *Handler) topicPage(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := checkTopic(name); err != nil {
		return err
	}
	p := readQuery(r, "to", "limit")
	to := p.int("to", 1, 1<<63-1, 0)
	limit := p.int("limit", 1, MaxPageSize, DefaultPageSize)
	if p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	t, err := h.getTopic(ctx, name)
	if err != nil {
		return err
	}
	subs, err := h.q.Topics().Subscriptions(ctx)
	if err != nil {
		return err
	}
	v := &topicView{Topic: h.topicRow(t), Limit: int(limit)}
	// A subscription that receives t and names one topic names t.
	known := func(name string) bool { return name == t.Name }
	for _, s := range subs {
		if queue.MatchTopic(s.Pattern, t.Name) && len(v.Subs) < MaxPageSize {
			v.Subs = append(v.Subs, h.subView(s, known))
		}
	}
	v.To = t.LastSeq
	if to > 0 && to < v.To {
		v.To = to
		v.NewestURL = h.topicURL(t.Name, 0, limit)
	}
	v.From = max(t.FirstSeq, v.To-limit+1)
	if t.Events > 0 && v.From <= v.To {
		events, err := h.q.Topics().Events(ctx, queue.EventFilter{Topic: t.Name, FromSeq: v.From, ToSeq: v.To, Limit: int(limit)})
		if err != nil {
			return err
		}
		slices.Reverse(events)
		for _, ev := range events {
			row := newEventRow(ev)
			if row.Size > MaxPayloadShown {
				row.PayloadURL = h.eventPayloadURL(ev)
			}
			v.Events = append(v.Events, row)
		}
		if v.From > t.FirstSeq {
			v.OlderURL = h.topicURL(t.Name, v.From-1, limit)
		}
	}
	return h.render(w, r, http.StatusOK, "topic", "layout", h.newPage(w, r, "Topic "+t.Name, "topics", v))
}

// topicURL is the event log page of a topic up to a sequence number (0:
// the newest).
func (h *Handler) topicURL(name string, to, limit int64) string {
	q := url.Values{}
	if to > 0 {
		q.Set("to", strconv.FormatInt(to, 10))
	}
	if limit != DefaultPageSize {
		q.Set("limit", strconv.FormatInt(limit, 10))
	}
	if len(q) == 0 {
		return h.url("/topics/" + name)
	}
	return h.url("/topics/" + name + "?" + q.Encode())
}

func newEventRow(ev queue.EventRecord) eventRow {
	row := eventRow{EventRecord: ev, Size: len(ev.Payload)}
	for _, k := range slices.Sorted(maps.Keys(ev.Metadata)) {
		row.Meta = append(row.Meta, k+"="+ev.Metadata[k])
	}
	row.Payload, row.PayloadKind = payloadView(ev.Payload)
	switch row.PayloadKind {
	case "JSON":
		row.Preview = truncate(120, string(unescapeHTML(ev.Payload[:min(len(ev.Payload), 4096)])))
	default:
		row.Preview = truncate(120, row.Payload[:min(len(row.Payload), 4096)])
	}
	return row
}

// Replay.

// doReplay checks a replay request (names, a range of at most
// maxReplayEvents sequence numbers) and runs it.
func (h *Handler) doReplay(ctx context.Context, sub, topic string, from, to int64) (int, error) {
	if err := queue.ValidName(sub); err != nil {
		return 0, errBadRequest("subscription %v", err)
	}
	if err := checkTopic(topic); err != nil {
		return 0, err
	}
	switch {
	case from == 0:
		return 0, errBadRequest("\"from\" is required: the sequence number of the first event to replay")
	case to == 0:
		return 0, errBadRequest("\"to\" is required: the sequence number of the last event to replay")
	case from < 0 || to < 0:
		return 0, errBadRequest("sequence numbers are positive; got from %d to %d", from, to)
	case from > to:
		return 0, errBadRequest("\"from\" (%d) is after \"to\" (%d): give the range oldest first", from, to)
	case to-from >= maxReplayEvents:
		return 0, errBadRequest("the range from %d to %d has %d events; replay at most %d at once", from, to, to-from+1, maxReplayEvents)
	}
	// The store checks the rest, once: that the subscription and the topic
	// exist (queue.ErrSubscriptionNotFound, ErrTopicNotFound: 404), that
	// the subscription receives the topic and the range lies within the
	// retained log (queue.ErrInvalidArgument: 400).
	return h.q.Topics().Replay(ctx, sub, queue.EventFilter{Topic: topic, FromSeq: from, ToSeq: to})
}

func (h *Handler) replayAction(w http.ResponseWriter, r *http.Request) error {
	p, err := h.formParams(r, "subscription", "topic", "from", "to")
	if err != nil {
		return err
	}
	sub, topic := p.str("subscription"), p.str("topic")
	from := p.int("from", 1, 1<<63-1, 0)
	to := p.int("to", 1, 1<<63-1, 0)
	if p.err != nil {
		return p.err
	}
	if sub == "" {
		return errBadRequest("parameter \"subscription\" is required: the name of the subscription to replay to")
	}
	n, err := h.doReplay(r.Context(), sub, topic, from, to)
	if err != nil {
		return err
	}
	h.redirect(w, r, "/topics", url.Values{"name": {sub}}, result{done: "replayed", n: int64(n)})
	return nil
}

// The JSON API.

func (h *Handler) apiTopics(w http.ResponseWriter, r *http.Request) error {
	p := readQuery(r, "after", "limit")
	after, limit := p.pageParams("after")
	if p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	topics, err := h.q.Topics().List(ctx)
	if err != nil {
		return err
	}
	shown, _, next := pageByName(topics, func(t queue.TopicInfo) string { return t.Name }, after, limit)
	out := wire.NewTopics(shown)
	out.NextAfter = next
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) apiSubscriptions(w http.ResponseWriter, r *http.Request) error {
	p := readQuery(r, "after", "limit")
	after, limit := p.pageParams("after")
	if p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	subs, err := h.q.Topics().Subscriptions(ctx)
	if err != nil {
		return err
	}
	shown, _, next := pageByName(subs, func(s queue.SubscriptionInfo) string { return s.Name }, after, limit)
	out := wire.NewSubscriptions(shown)
	out.NextAfter = next
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) apiEvents(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := checkTopic(name); err != nil {
		return err
	}
	p := readQuery(r, "from", "to", "limit")
	from := p.int("from", 1, 1<<63-1, 0)
	to := p.int("to", 1, 1<<63-1, 0)
	limit := p.int("limit", 1, MaxPageSize, DefaultPageSize)
	if p.err != nil {
		return p.err
	}
	if from > 0 && to > 0 && from > to {
		return errBadRequest("parameter \"from\" (%d) is after \"to\" (%d): give the range oldest first", from, to)
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	if _, err := h.getTopic(ctx, name); err != nil {
		return err
	}
	events, err := h.q.Topics().Events(ctx, queue.EventFilter{Topic: name, FromSeq: from, ToSeq: to, Limit: int(limit) + 1})
	if err != nil {
		return err
	}
	var next int64
	if len(events) > int(limit) {
		next = events[limit].Seq
		events = events[:limit]
	}
	page := wire.EventPage{Topic: name, Events: make([]wire.Event, len(events)), NextFrom: next}
	for i, ev := range events {
		page.Events[i] = wire.NewEventCapped(ev, MaxPayloadShown, h.eventPayloadURL(ev))
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// eventPayloadURL is where an event's whole payload is served.
func (h *Handler) eventPayloadURL(ev queue.EventRecord) string {
	return h.url("/api/topics/" + ev.Topic + "/events/" + strconv.FormatInt(ev.Seq, 10) + "/payload")
}

// apiEventPayload serves an event's whole payload as it is, as
// apiJobPayload serves a job's.
func (h *Handler) apiEventPayload(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := checkTopic(name); err != nil {
		return err
	}
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 1 {
		return errBadRequest("%q is not a sequence number (a positive integer)", r.PathValue("seq"))
	}
	if p := readQuery(r); p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	events, err := h.q.Topics().Events(ctx, queue.EventFilter{Topic: name, FromSeq: seq, ToSeq: seq, Limit: 1})
	if err != nil {
		return err
	}
	if len(events) == 0 || events[0].Seq != seq {
		return errNotFound(fmt.Sprintf("no event %d retained in topic %q", seq, name))
	}
	servePayload(w, r, events[0].Payload, fmt.Sprintf("event-%s-%d-payload", strings.ReplaceAll(name, "/", "_"), seq))
	return nil
}

func (h *Handler) apiReplay(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := queue.ValidName(name); err != nil {
		return errBadRequest("subscription %v", err)
	}
	var body struct {
		Topic string `json:"topic"`
		From  int64  `json:"from"`
		To    int64  `json:"to"`
	}
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	n, err := h.doReplay(r.Context(), name, body.Topic, body.From, body.To)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.ReplayResult{Subscription: name, Topic: body.Topic, From: body.From, To: body.To, Jobs: n})
	return nil
}
