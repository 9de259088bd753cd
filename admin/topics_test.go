package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
)

// seedTopics makes a shop's event log: seven orders.created events (event
// IDs 1 to 7, the even ones of tenant eu-1), two orders.cancelled (IDs 8
// and 9, both eu-1), and three subscriptions: stock (orders.created),
// audit (orders.#, tenant eu-1 only) and late, which started at the
// beginning of orders.cancelled and has not caught up.
func seedTopics(e *env) {
	e.t.Helper()
	ctx := context.Background()
	require.NoError(e.t, e.q.Topics().Subscribe(ctx, queue.Subscription{Name: "stock", Pattern: "orders.created", Queue: "stock", Kind: "stock.reserve"}))
	require.NoError(e.t, e.q.Topics().Subscribe(ctx, queue.Subscription{Name: "audit", Pattern: "orders.#", Kind: "audit.log", Filter: map[string]string{"tenant": "eu-1"}}))
	for i := range 7 {
		ev := queue.Event{Topic: "orders.created", Args: map[string]any{"order_id": 1000 + i, "total_cents": 1200 + i}, OrderKey: fmt.Sprintf("order:%d", 1000+i)}
		if i%2 == 0 {
			ev.Metadata = map[string]string{"tenant": "eu-1"}
		}
		_, err := e.q.Publish(ctx, ev)
		require.NoError(e.t, err)
		e.clock.Add(time.Minute)
	}
	for i := range 2 {
		_, err := e.q.Publish(ctx, queue.Event{Topic: "orders.cancelled", Args: map[string]int{"order_id": 1000 + i}, Metadata: map[string]string{"tenant": "eu-1"}})
		require.NoError(e.t, err)
	}
	require.NoError(e.t, e.q.Topics().SetRetention(ctx, "orders.created", queue.Retention{MaxAge: 7 * 24 * time.Hour, MaxEvents: 1000}))
	// Straight to the store: Queue.Subscribe would deliver the backlog at once.
	require.NoError(e.t, e.store.Subscribe(ctx, nil, queue.Subscription{Name: "late", Pattern: "orders.cancelled", Queue: "default", Kind: "late.log",
		From: queue.StartAt{Beginning: true}}, e.clock.Now()))
}

// completeAll runs every pending job of a queue to completion.
func completeAll(e *env, q string) int {
	e.t.Helper()
	now := e.clock.Now()
	res, err := e.store.Lease(context.Background(), queue.LeaseParams{Queue: q, Limit: 1000, Now: now, Until: now.Add(time.Minute), Worker: "w"})
	require.NoError(e.t, err)
	for _, j := range res.Jobs {
		e.settle(j, queue.OutcomeComplete, "", "")
	}
	return len(res.Jobs)
}

func TestTopicsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	body := e.getOK("/topics")
	require.Contains(t, body, "No topics yet.")
	require.Contains(t, body, "No subscriptions yet")
	seedTopics(e)

	body = e.getOK("/topics")
	require.Contains(t, body, "<title>Topics · spool admin</title>")
	require.Contains(t, body, `<a href="/topics" class="active">Topics</a>`)
	created := row(t, body, "data-topic", "orders.created")
	require.Contains(t, created, `<a class="strong mono" href="/topics/orders.created">orders.created</a>`)
	require.Contains(t, created, `<td class="num last-seq" data-label="Last seq">7</td>`)
	require.Contains(t, created, `<td class="num first-seq" data-label="First retained">1</td>`)
	require.Contains(t, created, `<td class="num events" data-label="Events retained">7</td>`)
	require.Contains(t, created, "<td class=\"retention\" data-label=\"Retention\">7d · 1\u202f000 newest</td>")
	require.Contains(t, row(t, body, "data-topic", "orders.cancelled"), `<td class="retention" data-label="Retention">keeps all</td>`)

	stock := row(t, body, "data-subscription", "stock")
	require.Contains(t, stock, `<a class="mono" href="/topics/orders.created">orders.created</a>`, "a plain pattern links to its topic")
	require.Contains(t, stock, `href="/jobs?queue=stock&amp;kind=stock.reserve"`)
	require.Contains(t, stock, `<td class="num cursor" data-label="Cursor">9</td>`)
	require.Contains(t, stock, `<td class="num backlog" data-label="Backlog">0</td>`)
	require.Contains(t, stock, `<td class="num lag" data-label="Lag"><span class="behind">7</span></td>`)
	require.Contains(t, stock, `<a class="btn small" href="/topics?replay=stock#replay">Replay…</a>`)
	audit := row(t, body, "data-subscription", "audit")
	require.Contains(t, audit, `<span class="mono">orders.#</span>`)
	require.Contains(t, audit, `<span class="chip">tenant=eu-1</span>`)
	require.Contains(t, audit, `<td class="num lag" data-label="Lag"><span class="behind">6</span></td>`)
	late := row(t, body, "data-subscription", "late")
	require.Contains(t, late, `<td class="num cursor" data-label="Cursor">0</td>`)
	require.Contains(t, late, `<td class="num backlog" data-label="Backlog"><span class="behind">9</span></td>`)
	require.Contains(t, late, `<td class="num lag" data-label="Lag">0</td>`)
	require.NotContains(t, body, `id="replay-form"`, "the replay form opens per subscription")

	// The replay form of one subscription offers the topics it receives.
	body = e.getOK("/topics?replay=audit")
	require.Contains(t, body, `<h2>Replay to <span class="mono">audit</span></h2>`)
	require.Contains(t, body, `<input type="hidden" name="subscription" value="audit">`)
	require.Contains(t, body, `<option value="orders.cancelled">orders.cancelled (seq 1–2)</option>`)
	require.Contains(t, body, `<option value="orders.created">orders.created (seq 1–7)</option>`)
	body = e.getOK("/topics?replay=stock")
	require.NotContains(t, body, `<option value="orders.cancelled">`)
	require.Contains(t, body, `placeholder="7"`)
	w := e.get("/topics?replay=nope")
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Contains(t, htmlUnescape(w.Body.String()), `no subscription "nope"`)
}

func TestTopicPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	seedTopics(e)

	body := e.getOK("/topics/orders.created")
	require.Contains(t, body, "<title>Topic orders.created · spool admin</title>")
	require.Contains(t, body, `<a href="/topics" class="active">Topics</a>`)
	require.Equal(t, []string{"7", "6", "5", "4", "3", "2", "1"}, regexpAll(`<tr data-seq="(\d+)">`, body), "newest first")
	seq7 := row(t, body, "data-seq", "7")
	require.Contains(t, seq7, `<span class="chip">tenant=eu-1</span>`)
	require.Contains(t, seq7, `<td class="mono" data-label="Order key">order:1006</td>`)
	require.Contains(t, seq7, `<span class="mono preview">{&#34;order_id&#34;:1006,&#34;total_cents&#34;:1206}</span>`)
	require.Contains(t, seq7, "{\n  &#34;order_id&#34;: 1006,\n  &#34;total_cents&#34;: 1206\n}", "pretty JSON")
	require.Contains(t, seq7, "JSON · 36 bytes")
	require.Contains(t, seq7, `<span title="2026-03-02 14:36:00.000 UTC">1m ago</span>`)
	require.Contains(t, row(t, body, "data-seq", "6"), `<td class="meta" data-label="Metadata"><span class="muted none">—</span></td>`)
	// The subscriptions that receive it.
	require.Contains(t, body, `<span class="strong mono">stock</span>`)
	require.Contains(t, body, `<span class="strong mono">audit</span>`)
	require.NotContains(t, body, `<span class="strong mono">late</span>`)
	require.Contains(t, body, `href="/topics?replay=stock#replay"`)
	require.NotContains(t, body, "Older →")

	// Paged by sequence number: three at a time, walked to the oldest.
	var seen []string
	next := "/topics/orders.created?limit=3"
	for next != "" {
		body = e.getOK(next)
		seen = append(seen, regexpAll(`<tr data-seq="(\d+)">`, body)...)
		m := regexpAll(`rel="next" href="([^"]+)"`, body)
		next = ""
		if len(m) == 1 {
			next = strings.ReplaceAll(m[0], "&amp;", "&")
		}
	}
	require.Equal(t, []string{"7", "6", "5", "4", "3", "2", "1"}, seen)
	body = e.getOK("/topics/orders.created?to=4&limit=3")
	require.Equal(t, []string{"4", "3", "2"}, regexpAll(`<tr data-seq="(\d+)">`, body))
	require.Contains(t, body, `<a class="btn ghost" href="/topics/orders.created?limit=3">← Newest</a>`)
	require.Contains(t, body, `rel="next" href="/topics/orders.created?limit=3&amp;to=1"`)
	require.Contains(t, body, "seq 2–4")
	require.Contains(t, body, `name="to" min="1" step="1" value="4"`)
	// Past the end: the newest.
	require.Equal(t, []string{"7", "6"}, regexpAll(`<tr data-seq="(\d+)">`, e.getOK("/topics/orders.created?to=99&limit=2")))

	// Retention dropped the oldest: the log starts later, and a page
	// before it says so.
	require.NoError(t, e.q.Topics().SetRetention(context.Background(), "orders.created", queue.Retention{MaxEvents: 3}))
	_, err := e.q.Topics().PruneEvents(context.Background(), 100)
	require.NoError(t, err)
	body = e.getOK("/topics/orders.created")
	require.Equal(t, []string{"7", "6", "5"}, regexpAll(`<tr data-seq="(\d+)">`, body))
	require.Contains(t, body, `<dt>First retained</dt><dd>5</dd>`)
	require.Contains(t, body, `<dd>3 newest</dd>`)
	body = e.getOK("/topics/orders.created?to=2")
	require.Contains(t, body, "No events retained at or before seq 2; the oldest is seq 5.")
	require.Contains(t, body, `<a href="/topics/orders.created">Back to the newest.</a>`)
	require.NoError(t, e.q.Topics().SetRetention(context.Background(), "orders.cancelled", queue.Retention{MaxAge: time.Second}))
	e.clock.Add(time.Minute)
	_, err = e.q.Topics().PruneEvents(context.Background(), 100)
	require.NoError(t, err)
	require.Contains(t, e.getOK("/topics/orders.cancelled"), "No events retained: the last was seq 2, and the topic's retention dropped it.")
	require.Contains(t, row(t, e.getOK("/topics"), "data-topic", "orders.cancelled"), `<td class="num first-seq" data-label="First retained"><span class="muted none">—</span></td>`)

	// Payloads that are not JSON.
	_, err = e.q.Publish(context.Background(), queue.Event{Topic: "raw.bytes", Payload: []byte{0xff, 0xfe, 0x00}})
	require.NoError(t, err)
	_, err = e.q.Publish(context.Background(), queue.Event{Topic: "raw.bytes", Payload: []byte("plain text")})
	require.NoError(t, err)
	_, err = e.q.Publish(context.Background(), queue.Event{Topic: "raw.bytes"})
	require.NoError(t, err)
	body = e.getOK("/topics/raw.bytes")
	require.Contains(t, row(t, body, "data-seq", "1"), "binary, base64 · 3 bytes")
	require.Contains(t, row(t, body, "data-seq", "1"), "//4A")
	require.Contains(t, row(t, body, "data-seq", "2"), `<span class="mono preview">plain text</span>`)
	require.Contains(t, row(t, body, "data-seq", "3"), `<span class="muted none" title="empty payload">—</span>`)
	require.Contains(t, body, "No subscription receives this topic")
}

func TestReplayAction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	seedTopics(e)
	require.Equal(t, 7, completeAll(e, "stock"))

	w := e.post("/subscriptions/replay", url.Values{"subscription": {"stock"}, "topic": {"orders.created"}, "from": {"2"}, "to": {"4"}})
	requireRedirect(t, w, "/topics?done=replayed&n=3&name=stock")
	body := e.getOK("/topics?done=replayed&n=3&name=stock")
	require.Contains(t, body, `<div class="flash" role="status">Replay to subscription stock made 3 jobs.</div>`)
	jobs, err := e.q.Inspector().List(context.Background(), queue.ListFilter{Queue: "stock", Limit: 10})
	require.NoError(t, err)
	require.Len(t, jobs, 3)
	for i, j := range jobs {
		require.Equal(t, "stock.reserve", j.Kind)
		require.Equal(t, fmt.Sprint(4-i), j.Metadata["spool.seq"])
	}
	require.Contains(t, row(t, body, "data-subscription", "stock"), `<td class="num lag" data-label="Lag"><span class="behind">3</span></td>`)
	w = e.post("/subscriptions/replay", url.Values{"subscription": {"stock"}, "topic": {"orders.created"}, "from": {"5"}, "to": {"5"}})
	requireRedirect(t, w, "/topics?done=replayed&n=1&name=stock")
	require.Contains(t, e.getOK("/topics?done=replayed&n=1&name=stock"), "Replay to subscription stock made 1 job.")
	// Again while the jobs are live: nothing doubles. (Events without an
	// ordering key: see the report on unique keys of blocked jobs.)
	require.Equal(t, 6, completeAll(e, "default"))
	w = e.post("/subscriptions/replay", url.Values{"subscription": {"audit"}, "topic": {"orders.cancelled"}, "from": {"1"}, "to": {"2"}})
	requireRedirect(t, w, "/topics?done=replayed&n=2&name=audit")
	w = e.post("/subscriptions/replay", url.Values{"subscription": {"audit"}, "topic": {"orders.cancelled"}, "from": {"1"}, "to": {"2"}})
	requireRedirect(t, w, "/topics?done=replayed&n=0&name=audit")
	require.Contains(t, e.getOK("/topics?done=replayed&n=0&name=audit"), "Replay to subscription audit made no jobs: each event in the range still has a live job there")
	// A filtered subscription gets only the events it matches.
	w = e.post("/subscriptions/replay", url.Values{"subscription": {"audit"}, "topic": {"orders.created"}, "from": {"1"}, "to": {"7"}})
	requireRedirect(t, w, "/topics?done=replayed&n=4&name=audit")

	// Bad requests: nothing is replayed.
	require.NoError(t, e.q.Topics().SetRetention(context.Background(), "orders.created", queue.Retention{MaxEvents: 5}))
	_, err = e.q.Topics().PruneEvents(context.Background(), 100)
	require.NoError(t, err)
	before := completeAll(e, "stock") + completeAll(e, "default")
	require.Equal(t, 4+6, before)
	form := func(kv ...string) url.Values {
		v := url.Values{"subscription": {"stock"}, "topic": {"orders.created"}, "from": {"3"}, "to": {"7"}}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "-" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	for _, c := range []struct {
		form   url.Values
		status int
		msg    string
	}{
		{form("subscription", "-"), 400, `parameter "subscription" is required`},
		{form("subscription", "nope"), 404, `no subscription "nope"`},
		{form("subscription", "a b"), 400, `subscription name "a b" has the character ' '`},
		{form("subscription", strings.Repeat("s", 200)), 400, "longer than 128 characters"},
		{form("topic", "-"), 400, `"topic" is required`},
		{form("topic", "orders.deleted"), 400, `subscription "stock" (pattern "orders.created") does not receive topic "orders.deleted"`},
		{form("to", "8"), 400, `to seq 8 is past the last event of topic "orders.created", seq 7`},
		{form("from", "2"), 400, `from seq 2 is before the oldest event topic "orders.created" retains, seq 3`},
		{form("topic", "orders..created"), 400, "has an empty word"},
		{form("topic", "orders.*"), 400, "wildcards belong in subscription patterns"},
		{form("topic", strings.Repeat("t", 200)), 400, "longer than 128 characters"},
		{form("topic", "orders.cancelled"), 400, `subscription "stock" (pattern "orders.created") does not receive topic "orders.cancelled"`},
		{form("from", "-"), 400, `"from" is required: the sequence number of the first event to replay`},
		{form("to", ""), 400, `"to" is required`},
		{form("from", "abc"), 400, `parameter "from" is "abc"; want a whole number from 1 to`},
		{form("from", "0"), 400, `parameter "from" is "0"`},
		{form("to", "-4"), 400, `parameter "to" is "-4"`},
		{form("to", "1e3"), 400, `parameter "to" is "1e3"`},
		{form("to", "99999999999999999999"), 400, `parameter "to"`},
		{form("from", "6", "to", "4"), 400, `"from" (6) is after "to" (4): give the range oldest first`},
		{form("from", "1", "to", "10001"), 400, "the range from 1 to 10001 has 10001 events; replay at most 10000 at once"},
		{form("from", "3", "to", "10003"), 400, "replay at most 10000 at once"},
		{form("extra", "1"), 400, `unknown parameter "extra"`},
		{form("from", "3", "from2", "x"), 400, `unknown parameter "from2"`},
	} {
		w := e.post("/subscriptions/replay", c.form)
		require.Equal(t, c.status, w.Code, "%v: %s", c.form, w.Body.String())
		require.Contains(t, htmlUnescape(w.Body.String()), c.msg, "%v", c.form)
	}
	w = e.post("/subscriptions/replay?subscription=stock", form())
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), "in the form body, not the URL")
	require.Zero(t, completeAll(e, "stock")+completeAll(e, "default"), "no refused replay made a job")
	// The whole retained range works.
	w = e.post("/subscriptions/replay", form())
	requireRedirect(t, w, "/topics?done=replayed&n=5&name=stock")
}

func TestTopicsAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	require.Equal(t, map[string]any{"topics": []any{}}, decode[map[string]any](t, e.get("/api/topics")))
	require.Equal(t, map[string]any{"subscriptions": []any{}}, decode[map[string]any](t, e.get("/api/subscriptions")))
	seedTopics(e)

	type apiTopic struct {
		Name      string
		LastSeq   int64 `json:"last_seq"`
		FirstSeq  int64 `json:"first_seq"`
		Events    int
		Retention struct {
			MaxAgeSeconds float64 `json:"max_age_seconds"`
			MaxEvents     int     `json:"max_events"`
		}
	}
	topics := decode[struct{ Topics []apiTopic }](t, e.get("/api/topics")).Topics
	require.Len(t, topics, 2)
	require.Equal(t, apiTopic{Name: "orders.cancelled", LastSeq: 2, FirstSeq: 1, Events: 2}, topics[0])
	want := apiTopic{Name: "orders.created", LastSeq: 7, FirstSeq: 1, Events: 7}
	want.Retention.MaxAgeSeconds, want.Retention.MaxEvents = 7*24*3600, 1000
	require.Equal(t, want, topics[1])

	type apiSub struct {
		Name, Pattern, Queue, Kind string
		Filter                     map[string]string
		Priority                   int
		MaxAttempts                int       `json:"max_attempts"`
		CreatedAt                  time.Time `json:"created_at"`
		Cursor                     int64
		Backlog, Lag               int
	}
	subs := decode[struct{ Subscriptions []apiSub }](t, e.get("/api/subscriptions")).Subscriptions
	require.Len(t, subs, 3)
	require.Equal(t, apiSub{Name: "audit", Pattern: "orders.#", Queue: "default", Kind: "audit.log", Filter: map[string]string{"tenant": "eu-1"},
		CreatedAt: t0, Cursor: 9, Lag: 6}, subs[0])
	require.Equal(t, "late", subs[1].Name)
	require.Equal(t, 9, subs[1].Backlog)
	require.Equal(t, map[string]string{}, subs[2].Filter)
	require.Equal(t, 7, subs[2].Lag)

	type apiEvent struct {
		ID, Seq         int64
		Topic           string
		PublishedAt     time.Time `json:"published_at"`
		OrderKey        string    `json:"order_key"`
		Metadata        map[string]string
		PayloadEncoding string `json:"payload_encoding"`
		Payload         any
	}
	type page struct {
		Topic    string
		Events   []apiEvent
		NextFrom int64 `json:"next_from"`
	}
	p := decode[page](t, e.get("/api/topics/orders.created/events?limit=3"))
	require.Equal(t, "orders.created", p.Topic)
	require.Len(t, p.Events, 3)
	require.Equal(t, int64(4), p.NextFrom)
	require.Equal(t, apiEvent{ID: 1, Seq: 1, Topic: "orders.created", PublishedAt: t0, OrderKey: "order:1000", Metadata: map[string]string{"tenant": "eu-1"},
		PayloadEncoding: "json", Payload: map[string]any{"order_id": float64(1000), "total_cents": float64(1200)}}, p.Events[0])
	require.Nil(t, p.Events[1].Metadata)
	var seqs []int64
	for from := int64(1); from != 0; {
		p := decode[page](t, e.get(fmt.Sprintf("/api/topics/orders.created/events?limit=3&from=%d", from)))
		for _, ev := range p.Events {
			seqs = append(seqs, ev.Seq)
		}
		from = p.NextFrom
	}
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6, 7}, seqs, "oldest first, paged by next_from")
	p = decode[page](t, e.get("/api/topics/orders.created/events?from=2&to=3"))
	require.Len(t, p.Events, 2)
	require.Zero(t, p.NextFrom)
	p = decode[page](t, e.get("/api/topics/orders.created/events?from=50"))
	require.Empty(t, p.Events)
	require.Contains(t, e.get("/api/topics/orders.created/events?from=50").Body.String(), `"events": []`)

	_, err := e.q.Publish(context.Background(), queue.Event{Topic: "raw/bytes.x", Payload: []byte{0xff, 0x00}})
	require.NoError(t, err)
	_, err = e.q.Publish(context.Background(), queue.Event{Topic: "raw/bytes.x", Payload: []byte("hi")})
	require.NoError(t, err)
	p = decode[page](t, e.get("/api/topics/raw/bytes.x/events"))
	require.Equal(t, "raw/bytes.x", p.Topic, "a topic with a slash")
	require.Equal(t, "base64", p.Events[0].PayloadEncoding)
	require.Equal(t, "/wA=", p.Events[0].Payload)
	require.Equal(t, "text", p.Events[1].PayloadEncoding)
	require.Equal(t, "hi", p.Events[1].Payload)
	require.Contains(t, e.getOK("/topics/raw/bytes.x"), "<title>Topic raw/bytes.x · spool admin</title>")
}

func TestReplayAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	seedTopics(e)
	completeAll(e, "stock")

	w := e.postJSON("/api/subscriptions/stock/replay", `{"topic": "orders.created", "from": 1, "to": 7}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, map[string]any{"subscription": "stock", "topic": "orders.created", "from": float64(1), "to": float64(7), "jobs": float64(7)}, decode[map[string]any](t, w))
	// Again while the jobs are live: nothing doubles (events without an
	// ordering key).
	completeAll(e, "default")
	w = e.postJSON("/api/subscriptions/audit/replay", `{"topic": "orders.cancelled", "from": 1, "to": 2}`)
	require.Equal(t, float64(2), decode[map[string]any](t, w)["jobs"])
	w = e.postJSON("/api/subscriptions/audit/replay", `{"topic": "orders.cancelled", "from": 1, "to": 2}`)
	require.Equal(t, float64(0), decode[map[string]any](t, w)["jobs"])

	for _, c := range []struct {
		path, body string
		status     int
		msg        string
	}{
		{"/api/subscriptions/nope/replay", `{"topic": "orders.created", "from": 1, "to": 2}`, 404, `no subscription "nope"`},
		{"/api/subscriptions/a%20b/replay", `{"topic": "orders.created", "from": 1, "to": 2}`, 400, `subscription name "a b"`},
		{"/api/subscriptions/stock/replay", ``, 400, `"topic" is required`},
		{"/api/subscriptions/stock/replay", `{"topic": "orders.created"}`, 400, `"from" is required`},
		{"/api/subscriptions/stock/replay", `{"topic": "orders.created", "from": 1}`, 400, `"to" is required`},
		{"/api/subscriptions/stock/replay", `{"topic": "nope.topic", "from": 1, "to": 2}`, 400, `does not receive topic "nope.topic"`},
		{"/api/subscriptions/stock/replay", `{"topic": "orders.created", "from": 1, "to": 70}`, 400, `to seq 70 is past the last event`},
		{"/api/subscriptions/stock/replay", `{"topic": "orders.created", "from": -1, "to": 2}`, 400, "sequence numbers are positive"},
		{"/api/subscriptions/stock/replay", `{"topic": "orders.created", "from": 3, "to": 2}`, 400, `"from" (3) is after "to" (2)`},
		{"/api/subscriptions/stock/replay", `{"topic": "orders.created", "from": "1", "to": 2}`, 400, "bad JSON body"},
		{"/api/subscriptions/stock/replay", `{"topic": "orders.created", "from": 1.5, "to": 2}`, 400, "bad JSON body"},
		{"/api/subscriptions/stock/replay", `{"topic": "orders.created", "from": 1, "to": 2, "all": true}`, 400, `unknown field "all"`},
		{"/api/subscriptions/audit/replay", `{"topic": "payments.failed", "from": 1, "to": 2}`, 400, `(pattern "orders.#") does not receive topic "payments.failed"`},
		{"/api/subscriptions/audit/replay", `{"topic": "orders.archived", "from": 1, "to": 2}`, 404, `no topic "orders.archived"`},
		{"/api/subscriptions/stock/replay", `{"topic": "orders.cancelled", "from": 1, "to": 2}`, 400, "does not receive topic"},
	} {
		w := e.postJSON(c.path, c.body)
		require.Equal(t, c.status, w.Code, "%s %s: %s", c.path, c.body, w.Body.String())
		require.Contains(t, decode[map[string]string](t, w)["error"], c.msg, "%s %s", c.path, c.body)
	}
	require.Equal(t, http.StatusMethodNotAllowed, e.get("/api/subscriptions/stock/replay").Code)
}

func TestTopicsEscaping(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	const evil = `<script>alert("x")</script>`
	ctx := context.Background()
	require.NoError(t, e.q.Topics().Subscribe(ctx, queue.Subscription{Name: "sneaky", Pattern: "orders.#", Kind: "k", Filter: map[string]string{"who": evil, evil: "key"}}))
	_, err := e.q.Publish(ctx, queue.Event{Topic: "orders.created",
		Payload:  []byte(`{"note": "` + strings.ReplaceAll(evil, `"`, `\"`) + `", "raw": "\u003cimg src=x onerror=alert(1)\u003e"}`),
		Metadata: map[string]string{"who": evil, evil: "key"}, OrderKey: evil})
	require.NoError(t, err)
	_, err = e.q.Publish(ctx, queue.Event{Topic: "orders.created", Payload: []byte("not json " + evil)})
	require.NoError(t, err)
	for _, p := range []string{"/topics", "/topics?replay=sneaky", "/topics/orders.created", "/topics/" + url.PathEscape(evil), "/topics?replay=" + url.QueryEscape(evil)} {
		body := e.get(p).Body.String()
		require.NotContains(t, body, "<script>alert", p)
		require.NotContains(t, body, "<img src=x", p)
	}
	body := e.getOK("/topics")
	require.Contains(t, body, `<span class="chip">who=&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</span>`, "filter value")
	require.Contains(t, body, `<span class="chip">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;=key</span>`, "filter key")
	body = e.getOK("/topics/orders.created")
	require.Contains(t, body, `<span class="chip">who=&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</span>`, "metadata")
	require.Contains(t, body, `<td class="mono" data-label="Order key">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</td>`, "order key")
	require.Contains(t, body, "&lt;img src=x onerror=alert(1)&gt;", "the payload reads as written, escaped")
	require.Contains(t, body, "&#34;note&#34;: &#34;&lt;script&gt;alert(\\&#34;x\\&#34;)&lt;/script&gt;&#34;", "pretty payload")
	require.Contains(t, body, "not json &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
	// The API's JSON escapes too.
	for _, p := range []string{"/api/topics/orders.created/events", "/api/subscriptions"} {
		api := e.get(p).Body.String()
		require.NotContains(t, api, "<script>", p)
		require.Contains(t, api, `\u003cscript\u003e`, p)
	}
}

func TestTopicsBadParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	seedTopics(e)
	long := strings.Repeat("t", 129)
	for _, c := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/topics/orders.deleted", 404, `no topic "orders.deleted": a topic appears once an event is published to it`},
		{"/topics/orders..created", 400, `topic "orders..created" has an empty word`},
		{"/topics/orders.%2A", 400, "wildcards belong in subscription patterns"},
		{"/topics/" + long, 400, "is longer than 128 characters"},
		{"/topics/a%20b", 400, `has the character ' '`},
		{"/topics/orders.created?to=abc", 400, `parameter "to" is "abc"; want a whole number from 1 to`},
		{"/topics/orders.created?to=0", 400, `parameter "to" is "0"`},
		{"/topics/orders.created?to=-1", 400, `parameter "to" is "-1"`},
		{"/topics/orders.created?to=99999999999999999999", 400, `parameter "to"`},
		{"/topics/orders.created?limit=0", 400, `parameter "limit" is "0"; want a whole number from 1 to 500`},
		{"/topics/orders.created?limit=501", 400, "from 1 to 500"},
		{"/topics/orders.created?from=1", 400, `unknown parameter "from" (this page takes to, limit)`},
		{"/topics/orders.created?to=1&to=2", 400, `parameter "to" is given 2 times`},
		{"/topics?replay=a%20b", 400, `parameter "replay": name "a b" has the character ' '`},
		{"/topics?replay=" + long, 400, "longer than 128 characters"},
		{"/topics?done=replayed&n=x", 400, `parameter "n"`},
		{"/topics?done=exploded", 400, `parameter "done" is "exploded"`},
		{"/topics?topic=x", 400, `unknown parameter "topic"`},
		{"/schedules?done=replayed&name=a%20b", 400, `parameter "name": name "a b"`},
		{"/api/topics/orders.deleted/events", 404, `no topic "orders.deleted"`},
		{"/api/topics/orders..x/events", 400, "has an empty word"},
		{"/api/topics/" + long + "/events", 400, "longer than 128 characters"},
		{"/api/topics/orders.created/events?from=5&to=2", 400, `parameter "from" (5) is after "to" (2): give the range oldest first`},
		{"/api/topics/orders.created/events?from=x", 400, `parameter "from" is "x"`},
		{"/api/topics/orders.created/events?to=0", 400, `parameter "to" is "0"`},
		{"/api/topics/orders.created/events?limit=0", 400, "from 1 to 500"},
		{"/api/topics/orders.created/events?limit=1000", 400, "from 1 to 500"},
		{"/api/topics/orders.created/events?seq=1", 400, `unknown parameter "seq"`},
		{"/api/topics/orders.created", 404, "no admin page"},
		{"/api/topics?x=1", 400, "unknown parameter"},
		{"/api/subscriptions?x=1", 400, "unknown parameter"},
		{"/api/schedules?x=1", 400, "unknown parameter"},
	} {
		w := e.get(c.path)
		require.Equal(t, c.status, w.Code, "%s: %s", c.path, w.Body.String())
		body := w.Body.String()
		if strings.HasPrefix(c.path, "/api/") {
			body = decode[map[string]string](t, w)["error"]
		} else {
			require.Contains(t, body, fmt.Sprintf(`<p class="status">%d <span>`, c.status), c.path)
			body = htmlUnescape(body)
		}
		require.Contains(t, body, c.msg, c.path)
	}
}

// TestSchedulesAndTopicsCSRF: the new actions need the CSRF token like
// every other; refused requests change nothing.
func TestSchedulesAndTopicsCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	sc := seedSchedules(e)
	seedTopics(e)
	completeAll(e, "stock")
	cookie, token := e.csrf()
	forms := map[string]url.Values{
		"/schedules/pause":      {"name": {"feed.export"}},
		"/schedules/trigger":    {"name": {"feed.export"}},
		"/schedules/resume":     {"name": {"happy.hour"}},
		"/subscriptions/replay": {"subscription": {"stock"}, "topic": {"orders.created"}, "from": {"1"}, "to": {"7"}},
	}
	for path, form := range forms {
		for _, c := range []struct {
			name   string
			token  string
			cookie *http.Cookie
			site   string
			msg    string
		}{
			{"no token", "", cookie, "same-origin", "missing CSRF token"},
			{"no cookie", token, nil, "same-origin", "missing CSRF cookie"},
			{"wrong token", "AAAA" + token[4:], cookie, "same-origin", "invalid CSRF token"},
			{"cross-site", token, cookie, "cross-site", "cross-origin request refused"},
		} {
			v := url.Values{}
			for k, vs := range form {
				v[k] = vs
			}
			if c.token != "" {
				v.Set("csrf", c.token)
			}
			r := httptest.NewRequest("POST", path, strings.NewReader(v.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Sec-Fetch-Site", c.site)
			if c.cookie != nil {
				r.AddCookie(c.cookie)
			}
			w := e.serve(r)
			require.Equal(t, http.StatusForbidden, w.Code, "%s %s", path, c.name)
			require.Contains(t, w.Body.String(), c.msg, "%s %s", path, c.name)
		}
	}
	for _, path := range []string{"/api/schedules/feed.export/pause", "/api/schedules/feed.export/trigger", "/api/schedules/happy.hour/resume", "/api/subscriptions/stock/replay"} {
		r := httptest.NewRequest("POST", path, strings.NewReader(`{"topic": "orders.created", "from": 1, "to": 7}`))
		r.AddCookie(cookie)
		w := e.serve(r)
		require.Equal(t, http.StatusForbidden, w.Code, path)
		require.Contains(t, decode[map[string]string](t, w)["error"], "missing CSRF token", path)
	}
	info := scheduleInfo(t, sc, "feed.export")
	require.False(t, info.Paused)
	require.True(t, info.TriggerAt.IsZero())
	require.True(t, scheduleInfo(t, sc, "happy.hour").Paused)
	require.Zero(t, completeAll(e, "stock"), "no replay")
	// The token of the page works.
	body := e.getOK("/schedules")
	w := e.post("/schedules/trigger", url.Values{"name": {"feed.export"}})
	requireRedirect(t, w, "/schedules?done=triggered&n=1&name=feed.export")
	require.Regexp(t, `name="csrf" value="[^"]+"><input type="hidden" name="name" value="feed.export"><button class="btn small" type="submit" data-confirm="Run schedule feed.export now`, body)
}
