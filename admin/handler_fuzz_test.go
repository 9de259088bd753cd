package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
	"github.com/spooljobs/spool/sqlite"
)

// fuzzSite is an httptest server in front of admin handlers on a real
// SQLite store holding a few jobs of every state, schedules, topics and
// subscriptions: the default handler at "/", one with a prefix at "/ops/"
// and a read-only one at "/ro/", all with basic auth.
type fuzzSite struct {
	srv    *httptest.Server
	q      *queue.Queue
	client *http.Client
	// cookie and token are a CSRF pair for each handler, by prefix.
	cookie, token map[string]string
	// allowed lists the tags and attributes the templates use.
	allowed markup
}

func fuzzMust(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func newFuzzSite(tb testing.TB) *fuzzSite {
	tb.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "spool.db"), sqlite.Options{})
	fuzzMust(tb, err)
	tb.Cleanup(func() { store.Close() })
	clock := &fakeClock{t: t0}
	q, err := queue.New(store, queue.Options{Now: clock.Now})
	fuzzMust(tb, err)

	const evil = `<script>alert("x")</script><img src=x onerror=alert(1)>`
	enqueue := func(j queue.NewJob) int64 {
		res, err := q.Enqueue(ctx, j)
		fuzzMust(tb, err)
		return res.ID
	}
	lease := func(j queue.NewJob) *queue.Job {
		j.Priority = queue.MaxPriority
		enqueue(j)
		now := clock.Now()
		res, err := store.Lease(ctx, queue.LeaseParams{Queue: j.Queue, Limit: 1, Now: now, Until: now.Add(30 * time.Second), Worker: "worker-" + evil})
		fuzzMust(tb, err)
		if len(res.Jobs) != 1 {
			tb.Fatalf("leased %d jobs", len(res.Jobs))
		}
		return res.Jobs[0]
	}
	settle := func(j *queue.Job, o queue.Outcome, msg string) {
		now := clock.Now()
		s := queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Outcome: o, Now: now, RunAt: now.Add(time.Hour),
			Error: &queue.AttemptError{Attempt: j.Attempt, At: now, Message: msg, Stack: "goroutine 1 [running]:\n" + evil}}
		if o == queue.OutcomeDead {
			s.Reason = "permanent error: " + msg
		}
		errs, err := store.Settle(ctx, nil, []queue.Settlement{s})
		fuzzMust(tb, err)
		fuzzMust(tb, errs[0])
	}
	enqueue(queue.NewJob{Kind: "email.receipt", Queue: "mail", Args: map[string]string{"note": evil}, Metadata: map[string]string{evil: evil}})
	enqueue(queue.NewJob{Kind: "text", Queue: "mail", Payload: []byte("not json " + evil)})
	enqueue(queue.NewJob{Kind: "bytes", Queue: "mail", Payload: []byte{0, 0xff, '<', 0xfe}})
	enqueue(queue.NewJob{Kind: "report.daily", Queue: "reports", Delay: time.Hour, UniqueKey: "report:" + evil})
	lease(queue.NewJob{Kind: "payment.charge", Queue: "orders", OrderKey: "order:" + evil})
	settle(lease(queue.NewJob{Kind: "payment.charge", Queue: "orders", Args: map[string]int{"order": 8}}), queue.OutcomeDead, "card declined \xfe "+evil)
	settle(lease(queue.NewJob{Kind: "warehouse.notify", Queue: "orders"}), queue.OutcomeRetry, "warehouse API 500 "+evil)
	settle(lease(queue.NewJob{Kind: "stock.reserve", Queue: "orders"}), queue.OutcomeComplete, "")
	cancelled := enqueue(queue.NewJob{Kind: "k", Queue: "mail"})
	_, err = q.Inspector().Cancel(ctx, cancelled)
	fuzzMust(tb, err)
	enqueue(queue.NewJob{Kind: "bad.utf8.json", Queue: "mail", Payload: []byte("{\"note\": \"\xff<\"}")})
	fuzzMust(tb, q.Inspector().Pause(ctx, "reports"))

	sched, err := schedule.New(q, schedule.Options{})
	fuzzMust(tb, err)
	for _, en := range []schedule.Entry{
		{Name: "stock.sync.nightly", Spec: "30 2 * * *", TimeZone: "Europe/Berlin", Job: queue.NewJob{Kind: "stock.sync", Queue: "maintenance"}},
		{Name: "feed/export", Spec: "@every 15m", Job: queue.NewJob{Kind: "feed.export", Queue: "exports"}},
		{Name: "happy.hour", Spec: "0 17 * * 5", Misfire: schedule.MisfireSkip, Job: queue.NewJob{Kind: "promo.notify"}},
	} {
		fuzzMust(tb, sched.Add(en))
	}
	_, err = sched.RunOnce(ctx)
	fuzzMust(tb, err)
	fuzzMust(tb, sched.Pause(ctx, "happy.hour"))
	fuzzMust(tb, sched.Trigger(ctx, "feed/export"))

	for _, sub := range []queue.Subscription{
		{Name: "stock", Pattern: "orders.created", Queue: "stock", Kind: "stock.reserve"},
		{Name: "email", Pattern: "orders.*", Queue: "mail", Kind: "email.order"},
		{Name: "audit/all", Pattern: "#", Kind: "audit.log", Filter: map[string]string{"tenant": "eu-1"}},
	} {
		fuzzMust(tb, q.Topics().Subscribe(ctx, sub))
	}
	for i := range 4 {
		_, err := q.Publish(ctx, queue.Event{Topic: "orders.created", OrderKey: fmt.Sprintf("order:%d", i),
			Metadata: map[string]string{"tenant": "eu-1", "note": evil}, Args: map[string]any{"order": i, "note": evil}})
		fuzzMust(tb, err)
	}
	_, err = q.Publish(ctx, queue.Event{Topic: "orders/eu.cancelled", Payload: []byte(evil)})
	fuzzMust(tb, err)
	fuzzMust(tb, q.Topics().SetRetention(ctx, "orders.created", queue.Retention{MaxEvents: 100}))

	mux := http.NewServeMux()
	auth := admin.BasicAuth(testUser, testPass)
	for _, o := range []admin.Options{{}, {Prefix: "/ops"}, {Prefix: "/ro", ReadOnly: true}} {
		o.Authorize = auth
		o.Schedules = sched
		h, err := admin.New(q, o)
		fuzzMust(tb, err)
		mux.Handle(o.Prefix+"/", h)
	}
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	s := &fuzzSite{srv: srv, q: q, client: srv.Client(), cookie: map[string]string{}, token: map[string]string{},
		allowed: templateMarkup(tb)}
	s.client.Timeout = time.Minute
	for _, prefix := range []string{"", "/ops"} {
		req, err := http.NewRequest("GET", srv.URL+prefix+"/api/csrf", nil)
		fuzzMust(tb, err)
		req.SetBasicAuth(testUser, testPass)
		resp, err := s.client.Do(req)
		fuzzMust(tb, err)
		var body struct{ Token string }
		fuzzMust(tb, json.NewDecoder(resp.Body).Decode(&body))
		resp.Body.Close()
		s.token[prefix] = body.Token
		s.cookie[prefix] = resp.Cookies()[0].Name + "=" + resp.Cookies()[0].Value
	}
	return s
}

// markup is a set of tag names and, per tag, attribute names.
type markup map[string]map[string]bool

var (
	// actionRE matches a template action; with the actions removed, a
	// template reads as the markup it writes.
	actionRE = regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	// tagRE matches a start or end tag, up to its ">" (which escaped text
	// and attribute values never hold).
	tagRE = regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>`)
)

// templateMarkup returns the tags and attributes the admin's templates use.
func templateMarkup(tb testing.TB) markup {
	tb.Helper()
	m := markup{}
	files, err := filepath.Glob("templates/*.html")
	fuzzMust(tb, err)
	if len(files) == 0 {
		tb.Fatal("no templates found")
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		fuzzMust(tb, err)
		got, err := readMarkup(actionRE.ReplaceAllString(string(b), ""))
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		for tag, attrs := range got {
			if m[tag] == nil {
				m[tag] = map[string]bool{}
			}
			for a := range attrs {
				m[tag][a] = true
			}
		}
	}
	return m
}

// readMarkup returns the tags and attribute names in an HTML document, and
// an error where a "<" starts no tag, comment or doctype.
func readMarkup(doc string) (markup, error) {
	m := markup{}
	for i := 0; i < len(doc); i++ {
		if doc[i] != '<' {
			continue
		}
		rest := doc[i:]
		if strings.HasPrefix(strings.ToLower(rest), "<!doctype html>") {
			continue
		}
		loc := tagRE.FindStringSubmatchIndex(rest)
		if loc == nil || loc[0] != 0 {
			return nil, fmt.Errorf("a raw %q at byte %d: %.60q", '<', i, rest)
		}
		tag := strings.ToLower(rest[loc[4]:loc[5]])
		if m[tag] == nil {
			m[tag] = map[string]bool{}
		}
		for _, a := range attrNames(rest[loc[6]:loc[7]]) {
			m[tag][strings.ToLower(a)] = true
		}
		i += loc[1] - 1
	}
	return m, nil
}

// attrNames returns the attribute names in the inside of a tag after its
// name, skipping the values (quoted or not).
func attrNames(s string) []string {
	var names []string
	i := 0
	space := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
	for i < len(s) {
		for i < len(s) && (space(s[i]) || s[i] == '/') {
			i++
		}
		start := i
		for i < len(s) && !space(s[i]) && s[i] != '=' && s[i] != '/' {
			i++
		}
		if i > start {
			names = append(names, s[start:i])
		}
		for i < len(s) && space(s[i]) {
			i++
		}
		if i < len(s) && s[i] == '=' {
			i++
			for i < len(s) && space(s[i]) {
				i++
			}
			switch {
			case i < len(s) && (s[i] == '"' || s[i] == '\''):
				end := strings.IndexByte(s[i+1:], s[i])
				if end < 0 {
					return append(names, "(unterminated value)")
				}
				i += end + 2
			default:
				for i < len(s) && !space(s[i]) {
					i++
				}
			}
		}
	}
	return names
}

// checkMarkup fails t when an HTML page holds a tag or attribute that no
// template uses (in particular an on…= event handler).
func (s *fuzzSite) checkMarkup(t *testing.T, what, body string) {
	t.Helper()
	if !utf8.ValidString(body) {
		t.Errorf("%s: the HTML is not valid UTF-8", what)
	}
	got, err := readMarkup(body)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for tag, attrs := range got {
		if s.allowed[tag] == nil {
			t.Fatalf("%s: tag <%s> is in no template", what, tag)
		}
		for a := range attrs {
			if strings.HasPrefix(a, "on") && !s.allowed[tag][a] {
				t.Fatalf("%s: <%s> has the event handler attribute %s=, which no template uses", what, tag, a)
			}
			if !s.allowed[tag][a] {
				t.Fatalf("%s: <%s> has the attribute %q, which no template uses on it", what, tag, a)
			}
		}
	}
}

// do sends one request and returns the response with its body read.
func (s *fuzzSite) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return resp, string(b)
}

// The fuzzed request's flags.
const (
	fuzzAuth       = 1 << iota // basic auth
	fuzzCSRF                   // the CSRF cookie, and the token in the header and form
	fuzzSameOrigin             // Sec-Fetch-Site: same-origin
	fuzzBadCookie              // a CSRF cookie that is not ours
)

var fuzzContentTypes = []string{"", "application/x-www-form-urlencoded", "application/json", "text/plain", "multipart/form-data; boundary=x"}

// FuzzHandler sends fuzzed requests (method, path, query, body, content
// type, auth and CSRF) through an httptest server to admin handlers on a
// real store. No request gets a 5xx; every JSON answer is valid JSON; and
// every HTML page uses only tags and attributes (so no on…= event
// handler) that the templates themselves use, and only escaped "<".
// Actions that pass the CSRF check do run, so the store changes as the
// fuzzer goes; the client follows their redirects.
//
// Each input is a real HTTP request on a real store (a few hundred a
// second), so let new inputs minimise for less than the default minute:
//
//	go test ./admin -run '^$' -fuzz '^FuzzHandler$' -fuzztime 60s -fuzzminimizetime 100x
func FuzzHandler(f *testing.F) {
	all := uint8(fuzzAuth | fuzzCSRF | fuzzSameOrigin)
	evil := "%3Cscript%3Ealert(1)%3C%2Fscript%3E"
	for _, c := range []struct {
		method, path, query, body string
		ct, flags                 uint8
	}{
		{"GET", "/", "", "", 0, all},
		{"GET", "/partial/dashboard", "", "", 0, all},
		{"GET", "/partial/jobs", "state=pending&limit=2&before=9", "", 0, all},
		{"GET", "/partial/jobs/1", "", "", 0, all},
		{"GET", "/partial/topics/orders.created", "to=3", "", 0, all},
		{"GET", "/partial/processes", "after=web-1&after_id=a-id&limit=1", "", 0, all},
		{"GET", "/api/processes", "after=web&after_id=" + evil, "", 0, all},
		{"GET", "/jobs", "done=cancelled&n=2&stopped=budget&remaining=3", "", 0, all},
		{"GET", "/jobs", "state=dead&queue=orders&limit=1", "", 0, all},
		{"GET", "/jobs", "q=" + evil, "", 0, all},
		{"GET", "/jobs", "before=3&limit=2&done=retried&n=2", "", 0, all},
		{"GET", "/jobs/1", "done=cancelled", "", 0, all},
		{"GET", "/jobs/5", "", "", 0, all},
		{"GET", "/jobs/6", "", "", 0, all},
		{"GET", "/jobs/10", "", "", 0, all},
		{"GET", "/jobs/99999", "", "", 0, all},
		{"GET", "/jobs/" + evil, "", "", 0, all},
		{"GET", "/dead", "kind=payment.charge", "", 0, all},
		{"GET", "/queues", "done=paused&n=1", "", 0, all},
		{"GET", "/charts", "queue=orders&top=2", "", 0, all},
		{"GET", "/charts", "kind=" + evil, "", 0, all},
		{"GET", "/api/charts", "kind=payment.charge&top=50", "", 0, all},
		{"GET", "/schedules", "done=triggered&n=1&name=feed/export", "", 0, all},
		{"GET", "/topics", "replay=stock", "", 0, all},
		{"GET", "/topics", "replay=" + evil, "", 0, all},
		{"GET", "/topics/orders.created", "limit=2&to=3", "", 0, all},
		{"GET", "/topics/orders/eu.cancelled", "", "", 0, all},
		{"GET", "/topics/" + evil, "", "", 0, all},
		{"GET", "/static/admin.css", "v=1", "", 0, all},
		{"GET", "/static/admin.js", "", "", 0, all},
		{"GET", "/static/../admin.go", "", "", 0, all},
		{"GET", "/nope", "", "", 0, all},
		{"GET", "/", "", "", 0, 0},
		{"HEAD", "/jobs", "", "", 0, all},
		{"DELETE", "/jobs/1", "", "", 0, all},
		{"OPTIONS", "/api/stats", "", "", 0, all},
		{"GET", "/api/stats", "", "", 0, all},
		{"GET", "/api/queues", "", "", 0, all},
		{"GET", "/api/jobs", "state=scheduled&limit=500", "", 0, all},
		{"GET", "/api/jobs/1", "", "", 0, all},
		{"GET", "/api/jobs/10", "", "", 0, all},
		{"GET", "/api/dead", "q=declined", "", 0, all},
		{"GET", "/api/schedules", "", "", 0, all},
		{"GET", "/api/topics", "", "", 0, all},
		{"GET", "/api/topics/orders.created/events", "from=1&to=3&limit=2", "", 0, all},
		{"GET", "/api/subscriptions", "", "", 0, all},
		{"GET", "/api/batches", "limit=1&before=9", "", 0, all},
		{"GET", "/api/batches/1", "", "", 0, all},
		{"GET", "/api/batches/x", "", "", 0, all},
		{"GET", "/api/csrf", "", "", 0, all},
		{"POST", "/jobs/1/cancel", "", "", 1, all},
		{"POST", "/jobs/2/retry", "", "", 1, all},
		{"POST", "/jobs/3/delete", "", "", 1, all},
		{"POST", "/dead/retry", "", "all=1&queue=orders", 1, all},
		{"POST", "/dead/delete", "", "ids=6&ids=7", 1, all},
		{"POST", "/queues/pause", "", "queue=mail", 1, all},
		{"POST", "/queues/resume", "", "queue=reports", 1, all},
		{"POST", "/schedules/pause", "", "name=feed/export", 1, all},
		{"POST", "/schedules/trigger", "", "name=stock.sync.nightly", 1, all},
		{"POST", "/schedules/resume", "", "name=nope", 1, all},
		{"POST", "/subscriptions/replay", "", "subscription=stock&topic=orders.created&from=1&to=2", 1, all},
		{"POST", "/api/jobs/4/retry", "", "", 0, all},
		{"POST", "/api/dead/retry", "", `{"all": true, "queue": "orders"}`, 2, all},
		{"POST", "/api/dead/delete", "", `{"ids": [1, 2, -3]}`, 2, all},
		{"POST", "/api/queues/pause", "", `{"queue": "mail"}`, 2, all},
		{"POST", "/api/schedules/feed/export/trigger", "", "", 2, all},
		{"POST", "/api/subscriptions/stock/replay", "", `{"topic": "orders.created", "from": 1}`, 2, all},
		{"POST", "/api/queues/pause", "", `{"queue": 5}`, 2, all},
		{"POST", "/api/queues/pause", "", `[`, 2, all},
		{"POST", "/queues/pause", "", "queue=mail", 1, fuzzAuth},
		{"POST", "/queues/pause", "", "queue=mail", 1, fuzzAuth | fuzzBadCookie},
		{"POST", "/queues/pause", "", "queue=mail&csrf=x", 4, all},
		{"POST", "/queues/pause", "a=b", "queue=%zz", 1, all},
		{"GET", "/ops/", "", "", 0, all},
		{"GET", "/ops", "x=1", "", 0, all},
		{"GET", "/ops/jobs", "state=running", "", 0, all},
		{"POST", "/ops/dead/retry", "", "id=6", 1, all},
		{"GET", "/ro/jobs/6", "", "", 0, all},
		{"POST", "/ro/api/queues/pause", "", `{"queue": "mail"}`, 2, all},
		{"GET", "//jobs", "", "", 0, all},
		{"GET", "/jobs/%2e%2e/dead", "", "", 0, all},
	} {
		f.Add(c.method, c.path, c.query, c.body, c.ct, c.flags)
	}
	s := newFuzzSite(f)
	f.Fuzz(func(t *testing.T, method, path, query, body string, ct, flags uint8) {
		if len(path)+len(query) > 4096 || len(body) > 1<<16 {
			t.Skip("longer than the fuzzer needs")
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		prefix := ""
		if strings.HasPrefix(path, "/ops/") {
			prefix = "/ops"
		}
		u := s.srv.URL + path
		if query != "" {
			u += "?" + query
		}
		if flags&fuzzCSRF != 0 && int(ct)%len(fuzzContentTypes) == 1 {
			if body != "" {
				body += "&"
			}
			body += "csrf=" + s.token[prefix]
		}
		req, err := http.NewRequest(method, u, strings.NewReader(body))
		if err != nil {
			t.Skip("not a request the client sends:", err)
		}
		if c := fuzzContentTypes[int(ct)%len(fuzzContentTypes)]; c != "" {
			req.Header.Set("Content-Type", c)
		}
		if flags&fuzzAuth != 0 {
			req.SetBasicAuth(testUser, testPass)
		}
		if flags&fuzzCSRF != 0 {
			req.Header.Set("X-CSRF-Token", s.token[prefix])
			req.Header.Set("Cookie", s.cookie[prefix])
		}
		if flags&fuzzBadCookie != 0 {
			req.Header.Set("Cookie", "spool_admin_csrf=not-ours")
		}
		if flags&fuzzSameOrigin != 0 {
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		}
		resp, err := s.client.Do(req)
		if err != nil {
			t.Skip("the client refused the request:", err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: reading the body: %v", method, u, err)
		}
		what := fmt.Sprintf("%s %s (flags %b) -> %d", resp.Request.Method, resp.Request.URL, flags, resp.StatusCode)
		if resp.StatusCode >= 500 {
			t.Fatalf("%s: %s", what, b)
		}
		switch ctype := resp.Header.Get("Content-Type"); {
		case strings.HasPrefix(ctype, "text/html"):
			s.checkMarkup(t, what, string(b))
		case strings.HasPrefix(ctype, "application/json"):
			if len(b) > 0 && (!json.Valid(b) || !utf8.Valid(b)) {
				t.Fatalf("%s: invalid JSON or not UTF-8: %.200q", what, b)
			}
		}
	})
}

var (
	jobPayloadRE   = admin.JobPayloadRE
	eventPayloadRE = regexp.MustCompile(`(?s)<div class="muted payload-kind">([^<]*) · [^<]* bytes</div>\s*<pre class="code">(.*?)</pre>`)
)

// FuzzPayload is FuzzPayloadView end to end: it enqueues a job and
// publishes an event with a fuzzed payload on a real store, reads them on
// the job's page, the topic's page and the JSON API through an httptest
// server, and checks what FuzzPayloadView checks, that the pages hold only
// the templates' markup, and that the API gives the payload back exactly.
// It makes about 100 inputs a second; let it minimise for less than the
// default minute:
//
//	go test ./admin -run '^$' -fuzz '^FuzzPayload$' -fuzztime 60s -fuzzminimizetime 100x
func FuzzPayload(f *testing.F) {
	for _, p := range admin.PayloadSeeds {
		f.Add([]byte(p))
	}
	s := newFuzzSite(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, payload []byte) {
		if len(payload) > 1<<16 {
			t.Skip("longer than the fuzzer needs")
		}
		res, err := s.q.Enqueue(ctx, queue.NewJob{Kind: "fuzz", Queue: "fuzz", Payload: payload})
		if err != nil {
			t.Fatalf("enqueue: %v", err)
		}
		page := s.get(t, fmt.Sprintf("/jobs/%d", res.ID))
		m := jobPayloadRE.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no payload section on the job page for %q", payload)
		}
		admin.CheckPayloadShown(t, "job page", payload, m[1], m[2])
		s.checkAPIPayload(t, fmt.Sprintf("/api/jobs/%d", res.ID), payload)

		if _, err := s.q.Publish(ctx, queue.Event{Topic: "fuzz.payload", Payload: payload}); err != nil {
			t.Fatalf("publish: %v", err)
		}
		page = s.get(t, "/topics/fuzz.payload?limit=1")
		if len(payload) == 0 {
			return // "empty", without a payload block
		}
		m = eventPayloadRE.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no payload on the topic page for %q", payload)
		}
		admin.CheckPayloadShown(t, "topic page", payload, m[1], m[2])
	})
}

// get GETs a page with auth and requires a 200 with only the templates'
// markup.
func (s *fuzzSite) get(t *testing.T, path string) string {
	t.Helper()
	req, err := http.NewRequest("GET", s.srv.URL+path, nil)
	fuzzMust(t, err)
	req.SetBasicAuth(testUser, testPass)
	resp, body := s.do(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	s.checkMarkup(t, "GET "+path, body)
	return body
}

// checkAPIPayload checks that the JSON API's answer at path gives payload
// back exactly: the same JSON value, text or bytes, in valid UTF-8.
func (s *fuzzSite) checkAPIPayload(t *testing.T, path string, payload []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", s.srv.URL+path, nil)
	fuzzMust(t, err)
	req.SetBasicAuth(testUser, testPass)
	resp, body := s.do(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if !utf8.ValidString(body) {
		t.Fatalf("GET %s: the JSON for the payload %q is not valid UTF-8", path, payload)
	}
	var got struct {
		Encoding string          `json:"payload_encoding"`
		Payload  json.RawMessage `json:"payload"`
	}
	fuzzMust(t, json.Unmarshal([]byte(body), &got))
	switch got.Encoding {
	case "json":
		if len(payload) == 0 {
			if string(got.Payload) != "null" {
				t.Fatalf("GET %s: the empty payload is %s", path, got.Payload)
			}
			return
		}
		if !json.Valid(payload) || !reflect.DeepEqual(admin.DecodeJSONExact(t, payload), admin.DecodeJSONExact(t, got.Payload)) {
			t.Fatalf("GET %s: the payload %q is given as the JSON %s", path, payload, got.Payload)
		}
	case "text":
		var text string
		fuzzMust(t, json.Unmarshal(got.Payload, &text))
		if text != string(payload) {
			t.Fatalf("GET %s: the payload %q is given as the text %q", path, payload, text)
		}
	case "base64":
		var b []byte
		fuzzMust(t, json.Unmarshal(got.Payload, &b))
		if !bytes.Equal(b, payload) {
			t.Fatalf("GET %s: the payload %q is given as the bytes %q", path, payload, b)
		}
	default:
		t.Fatalf("GET %s: payload_encoding %q", path, got.Encoding)
	}
}
