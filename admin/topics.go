package admin

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

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
	Topics []topicRow
	Subs   []subView
	// Replay is the replay form of one subscription (?replay=name).
	Replay *replayView
}

type replayView struct {
	Sub    subView
	Topics []topicRow // the topics its pattern matches
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

func (h *Handler) subView(s queue.SubscriptionInfo, topics []queue.TopicInfo) subView {
	v := subView{SubscriptionInfo: s, ReplayURL: h.url("/topics?replay=" + url.QueryEscape(s.Name) + "#replay")}
	for _, k := range slices.Sorted(maps.Keys(s.Filter)) {
		v.Filter = append(v.Filter, k+"="+s.Filter[k])
	}
	if !strings.ContainsAny(s.Pattern, "*#") && slices.ContainsFunc(topics, func(t queue.TopicInfo) bool { return t.Name == s.Pattern }) {
		v.PatternURL = h.url("/topics/" + s.Pattern)
	}
	return v
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

func findTopic(topics []queue.TopicInfo, name string) (queue.TopicInfo, error) {
	i := slices.IndexFunc(topics, func(t queue.TopicInfo) bool { return t.Name == name })
	if i < 0 {
		return queue.TopicInfo{}, errNotFound(fmt.Sprintf("no topic %q: a topic appears once an event is published to it", name))
	}
	return topics[i], nil
}

func findSubscription(subs []queue.SubscriptionInfo, name string) (queue.SubscriptionInfo, error) {
	i := slices.IndexFunc(subs, func(s queue.SubscriptionInfo) bool { return s.Name == name })
	if i < 0 {
		return queue.SubscriptionInfo{}, errNotFound(fmt.Sprintf("no subscription %q", name))
	}
	return subs[i], nil
}

// loadTopics reads the topics and the subscriptions.
func (h *Handler) loadTopics(ctx context.Context) ([]queue.TopicInfo, []queue.SubscriptionInfo, error) {
	topics, err := h.q.Topics().List(ctx)
	if err != nil {
		return nil, nil, err
	}
	subs, err := h.q.Topics().Subscriptions(ctx)
	if err != nil {
		return nil, nil, err
	}
	return topics, subs, nil
}

func (h *Handler) topicsPage(w http.ResponseWriter, r *http.Request) error {
	p := readQuery(r, slices.Concat([]string{"replay"}, flashNameKeys)...)
	replay := p.name("replay")
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
	for _, t := range topics {
		v.Topics = append(v.Topics, h.topicRow(t))
	}
	for _, s := range subs {
		v.Subs = append(v.Subs, h.subView(s, topics))
	}
	if replay != "" && !h.opts.ReadOnly {
		s, err := findSubscription(subs, replay)
		if err != nil {
			return err
		}
		v.Replay = &replayView{Sub: h.subView(s, topics)}
		for _, t := range topics {
			if queue.MatchTopic(s.Pattern, t.Name) {
				v.Replay.Topics = append(v.Replay.Topics, h.topicRow(t))
			}
		}
	}
	pg := h.newPage(w, r, "Topics", "topics", v)
	pg.Flash = fl.Text()
	return h.render(w, r, http.StatusOK, "topics", "layout", pg)
}

// The event log of one topic, newest first, paged by sequence number.

type eventRow struct {
	queue.EventRecord
	Meta        []string // "key=value", sorted
	Preview     string
	Payload     string
	PayloadKind string
	Size        int
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
	topics, subs, err := h.loadTopics(ctx)
	if err != nil {
		return err
	}
	t, err := findTopic(topics, name)
	if err != nil {
		return err
	}
	v := &topicView{Topic: h.topicRow(t), Limit: int(limit)}
	for _, s := range subs {
		if queue.MatchTopic(s.Pattern, t.Name) {
			v.Subs = append(v.Subs, h.subView(s, topics))
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
			v.Events = append(v.Events, newEventRow(ev))
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

// doReplay checks a replay request and runs it: the subscription and the
// topic must exist, the subscription must receive the topic, and the range
// must lie within the topic's retained log.
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
	rctx, cancel := context.WithTimeout(ctx, h.opts.QueryTimeout)
	topics, subs, err := h.loadTopics(rctx)
	cancel()
	if err != nil {
		return 0, err
	}
	s, err := findSubscription(subs, sub)
	if err != nil {
		return 0, err
	}
	t, err := findTopic(topics, topic)
	if err != nil {
		return 0, err
	}
	switch {
	case !queue.MatchTopic(s.Pattern, t.Name):
		return 0, errBadRequest("subscription %q (pattern %q) does not receive topic %q", s.Name, s.Pattern, t.Name)
	case t.Events == 0:
		return 0, errBadRequest("topic %q retains no events to replay (its last was seq %d)", t.Name, t.LastSeq)
	case to > t.LastSeq:
		return 0, errBadRequest("\"to\" (%d) is past the last event of topic %q, seq %d", to, t.Name, t.LastSeq)
	case from < t.FirstSeq:
		return 0, errBadRequest("\"from\" (%d) is before the oldest event topic %q retains, seq %d: its retention dropped the older ones", from, t.Name, t.FirstSeq)
	}
	return h.q.Topics().Replay(ctx, s.Name, queue.EventFilter{Topic: t.Name, FromSeq: from, ToSeq: to})
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

type apiTopic struct {
	Name      string       `json:"name"`
	LastSeq   int64        `json:"last_seq"`
	FirstSeq  int64        `json:"first_seq"`
	Events    int          `json:"events"`
	Retention apiRetention `json:"retention"`
}

type apiRetention struct {
	MaxAgeSeconds float64 `json:"max_age_seconds"`
	MaxEvents     int     `json:"max_events"`
}

type apiSubscription struct {
	Name        string            `json:"name"`
	Pattern     string            `json:"pattern"`
	Filter      map[string]string `json:"filter"`
	Queue       string            `json:"queue"`
	Kind        string            `json:"kind"`
	Priority    int               `json:"priority"`
	MaxAttempts int               `json:"max_attempts"`
	CreatedAt   time.Time         `json:"created_at"`
	Cursor      int64             `json:"cursor"`
	Backlog     int               `json:"backlog"`
	Lag         int               `json:"lag"`
}

type apiEvent struct {
	ID              int64             `json:"id"`
	Topic           string            `json:"topic"`
	Seq             int64             `json:"seq"`
	PublishedAt     time.Time         `json:"published_at"`
	OrderKey        string            `json:"order_key,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	PayloadEncoding string            `json:"payload_encoding"`
	Payload         any               `json:"payload"`
}

func (h *Handler) apiTopics(w http.ResponseWriter, r *http.Request) error {
	if p := readQuery(r); p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	topics, err := h.q.Topics().List(ctx)
	if err != nil {
		return err
	}
	out := []apiTopic{}
	for _, t := range topics {
		out = append(out, apiTopic{Name: t.Name, LastSeq: t.LastSeq, FirstSeq: t.FirstSeq, Events: t.Events,
			Retention: apiRetention{MaxAgeSeconds: t.Retention.MaxAge.Seconds(), MaxEvents: t.Retention.MaxEvents}})
	}
	writeJSON(w, http.StatusOK, map[string]any{"topics": out})
	return nil
}

func (h *Handler) apiSubscriptions(w http.ResponseWriter, r *http.Request) error {
	if p := readQuery(r); p.err != nil {
		return p.err
	}
	ctx, cancel := h.readCtx(r)
	defer cancel()
	subs, err := h.q.Topics().Subscriptions(ctx)
	if err != nil {
		return err
	}
	out := []apiSubscription{}
	for _, s := range subs {
		f := s.Filter
		if f == nil {
			f = map[string]string{}
		}
		out = append(out, apiSubscription{Name: s.Name, Pattern: s.Pattern, Filter: f, Queue: s.Queue, Kind: s.Kind,
			Priority: s.Priority, MaxAttempts: s.MaxAttempts, CreatedAt: s.CreatedAt.UTC(),
			Cursor: s.Cursor, Backlog: s.Backlog, Lag: s.Lag})
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscriptions": out})
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
	topics, err := h.q.Topics().List(ctx)
	if err != nil {
		return err
	}
	if _, err := findTopic(topics, name); err != nil {
		return err
	}
	events, err := h.q.Topics().Events(ctx, queue.EventFilter{Topic: name, FromSeq: from, ToSeq: to, Limit: int(limit) + 1})
	if err != nil {
		return err
	}
	out := struct {
		Topic    string     `json:"topic"`
		Events   []apiEvent `json:"events"`
		NextFrom int64      `json:"next_from,omitempty"`
	}{Topic: name, Events: []apiEvent{}}
	if len(events) > int(limit) {
		out.NextFrom = events[limit].Seq
		events = events[:limit]
	}
	for _, ev := range events {
		a := apiEvent{ID: ev.ID, Topic: ev.Topic, Seq: ev.Seq, PublishedAt: ev.PublishedAt.UTC(), OrderKey: ev.OrderKey, Metadata: ev.Metadata}
		a.PayloadEncoding, a.Payload = queue.PayloadJSON(ev.Payload)
		out.Events = append(out.Events, a)
	}
	writeJSON(w, http.StatusOK, out)
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
	writeJSON(w, http.StatusOK, map[string]any{"subscription": name, "topic": body.Topic, "from": body.From, "to": body.To, "jobs": n})
	return nil
}
