package admin_test

import (
	"bytes"
	"fmt"
	"log/slog"
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

func TestNewOptions(t *testing.T) {
	t.Parallel()
	q, _, _ := newTestQueue(t)
	auth := admin.BasicAuth("a", "b")
	for _, c := range []struct {
		opts admin.Options
		err  string
	}{
		{admin.Options{}, "admin: Options.Authorize is nil: set it (for example to admin.BasicAuth(user, password)), or set Options.NoAuth when another layer authenticates"},
		{admin.Options{Authorize: auth, NoAuth: true}, "both set"},
		{admin.Options{NoAuth: true, Prefix: "admin"}, `Options.Prefix "admin" must start with "/"`},
		{admin.Options{NoAuth: true, Prefix: "/admin/"}, `must not end with "/"`},
		{admin.Options{NoAuth: true, Prefix: "/ad min"}, "has the character ' '"},
		{admin.Options{NoAuth: true, Prefix: "/a?b"}, "has the character '?'"},
		{admin.Options{NoAuth: true, Prefix: "//evil.example"}, `Options.Prefix "//evil.example" is not a clean path`},
		{admin.Options{NoAuth: true, Prefix: "/a//b"}, "is not a clean path"},
		{admin.Options{NoAuth: true, Prefix: "/a/../b"}, "is not a clean path"},
		{admin.Options{NoAuth: true, Prefix: "/a/."}, "is not a clean path"},
		{admin.Options{NoAuth: true, RefreshInterval: time.Millisecond}, "Options.RefreshInterval 1ms is shorter than 1s"},
		{admin.Options{NoAuth: true, QueryTimeout: -time.Second}, "Options.QueryTimeout -1s is negative"},
		{admin.Options{NoAuth: true, Secret: []byte("short")}, "Options.Secret has 5 bytes; use at least 32 random bytes"},
	} {
		_, err := admin.New(q, c.opts)
		require.ErrorContains(t, err, c.err)
	}
	_, err := admin.New(nil, admin.Options{NoAuth: true})
	require.EqualError(t, err, "admin: queue is nil")
	for _, opts := range []admin.Options{
		{NoAuth: true},
		{Authorize: auth, Prefix: "/ops/spool", RefreshInterval: -1, QueryTimeout: time.Second, Secret: bytes.Repeat([]byte("k"), 32)},
	} {
		_, err := admin.New(q, opts)
		require.NoError(t, err)
	}
}

func TestBasicAuth(t *testing.T) {
	t.Parallel()
	check := admin.BasicAuth("admin", "s3cret")
	req := func(user, pass string, set bool) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		if set {
			r.SetBasicAuth(user, pass)
		}
		return r
	}
	require.True(t, check(req("admin", "s3cret", true)))
	require.False(t, check(req("admin", "s3cret!", true)))
	require.False(t, check(req("admin", "", true)))
	require.False(t, check(req("Admin", "s3cret", true)))
	require.False(t, check(req("", "", false)))
	// An empty password refuses everyone, also a request with no password.
	none := admin.BasicAuth("admin", "")
	require.False(t, none(req("admin", "", true)))
	require.False(t, admin.BasicAuth("", "")(req("", "", true)))
}

// every lists a request for every route, with a plausible body.
func everyRoute() []struct{ method, path string } {
	return []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/partial/dashboard"}, {"GET", "/jobs"}, {"GET", "/jobs/1"}, {"GET", "/dead"},
		{"GET", "/queues"}, {"GET", "/static/admin.css"}, {"GET", "/api/stats"}, {"GET", "/api/queues"},
		{"GET", "/api/jobs"}, {"GET", "/api/jobs/1"}, {"GET", "/api/jobs/1/payload"}, {"GET", "/api/dead"}, {"GET", "/api/csrf"},
		{"POST", "/jobs/1/retry"}, {"POST", "/jobs/1/cancel"}, {"POST", "/jobs/1/delete"},
		{"POST", "/dead/retry"}, {"POST", "/dead/delete"}, {"POST", "/queues/pause"}, {"POST", "/queues/resume"},
		{"POST", "/api/jobs/1/retry"}, {"POST", "/api/jobs/1/cancel"}, {"POST", "/api/jobs/1/delete"},
		{"POST", "/api/dead/retry"}, {"POST", "/api/dead/delete"}, {"POST", "/api/queues/pause"}, {"POST", "/api/queues/resume"},
		{"GET", "/schedules"}, {"GET", "/topics"}, {"GET", "/topics/orders.created"},
		{"GET", "/api/schedules"}, {"GET", "/api/topics"}, {"GET", "/api/subscriptions"}, {"GET", "/api/topics/orders.created/events"},
		{"POST", "/schedules/pause"}, {"POST", "/schedules/resume"}, {"POST", "/schedules/trigger"}, {"POST", "/subscriptions/replay"},
		{"POST", "/api/schedules/feed.export/pause"}, {"POST", "/api/schedules/feed.export/resume"}, {"POST", "/api/schedules/feed.export/trigger"},
		{"POST", "/api/subscriptions/stock/replay"},
		{"GET", "/nope"},
	}
}

func TestAuthRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	id := e.dead(queue.NewJob{Kind: "k"}, "boom", "")
	require.Equal(t, int64(1), id)
	for i, rt := range everyRoute() {
		for j, cred := range []string{"", "admin:wrong", "someone:" + testPass} {
			r := httptest.NewRequest(rt.method, rt.path, nil)
			// One client each: failed logins are limited per client.
			r.RemoteAddr = fmt.Sprintf("10.0.%d.%d:1234", i, j)
			if cred != "" {
				u, p, _ := strings.Cut(cred, ":")
				r.SetBasicAuth(u, p)
			} else {
				r.Header.Set("Authorization", "Bearer nothing")
			}
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			require.Equal(t, http.StatusUnauthorized, w.Code, "%s %s as %q", rt.method, rt.path, cred)
			require.Equal(t, `Basic realm="spool admin", charset="UTF-8"`, w.Header().Get("WWW-Authenticate"))
			require.NotContains(t, w.Body.String(), "boom")
		}
	}
	require.Equal(t, queue.StateDead, e.state(id), "nothing ran")
	require.Equal(t, http.StatusOK, e.get("/").Code)

	// A custom answer for refused requests, such as a redirect to a login.
	e2 := newEnv(t, admin.Options{
		Authorize:    func(r *http.Request) bool { return r.Header.Get("X-User") == "ops" },
		Unauthorized: http.RedirectHandler("/login", http.StatusFound),
	})
	w := httptest.NewRecorder()
	e2.h.ServeHTTP(w, httptest.NewRequest("GET", "/jobs", nil))
	require.Equal(t, http.StatusFound, w.Code)
	require.Equal(t, "/login", w.Header().Get("Location"))
	r := httptest.NewRequest("GET", "/jobs", nil)
	r.Header.Set("X-User", "ops")
	w = httptest.NewRecorder()
	e2.h.ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code)

	// NoAuth: another layer authenticates.
	e3 := newEnv(t, admin.Options{NoAuth: true})
	w = httptest.NewRecorder()
	e3.h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	require.Equal(t, http.StatusOK, w.Code)
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	id := e.dead(queue.NewJob{Kind: "k"}, "boom", "")
	cookie, token := e.csrf()
	other := newEnv(t, admin.Options{}) // another handler: another secret
	otherCookie, otherToken := other.csrf()
	require.NotEqual(t, token, otherToken)

	// The forms carry the token; the cookie is strict and HTTP only.
	w := e.get("/dead")
	require.Contains(t, w.Body.String(), `name="csrf" value="`)
	sc := w.Result().Cookies()
	require.Len(t, sc, 1)
	require.Equal(t, "spool_admin_csrf", sc[0].Name)
	require.True(t, sc[0].HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, sc[0].SameSite)
	require.Equal(t, "/", sc[0].Path)
	// The token in a page matches the cookie it came with.
	pageToken := tokenRE.FindStringSubmatch(w.Body.String())[1]

	form := func(tok string, c *http.Cookie, hdr map[string]string) *http.Request {
		v := url.Values{"id": {fmt.Sprint(id)}}
		if tok != "" {
			v.Set("csrf", tok)
		}
		r := httptest.NewRequest("POST", "/dead/retry", strings.NewReader(v.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if c != nil {
			r.AddCookie(c)
		}
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		return r
	}
	for _, c := range []struct {
		name string
		r    *http.Request
		msg  string
	}{
		{"no token, no cookie", form("", nil, nil), "missing CSRF token"},
		{"no token", form("", cookie, nil), "missing CSRF token: reload the page and try again"},
		{"no cookie", form(token, nil, nil), "missing CSRF cookie"},
		{"wrong token", form("AAAA"+token[4:], cookie, nil), "invalid CSRF token"},
		{"token of another cookie", form(otherToken, cookie, nil), "invalid CSRF token"},
		{"pair of another handler", form(otherToken, otherCookie, nil), "invalid CSRF token"},
		{"garbage cookie", form(token, &http.Cookie{Name: "spool_admin_csrf", Value: "x"}, nil), "missing CSRF cookie"},
		{"cross-site", form(token, cookie, map[string]string{"Sec-Fetch-Site": "cross-site"}), "cross-origin request refused"},
		{"other origin", form(token, cookie, map[string]string{"Origin": "https://evil.example"}), "cross-origin request refused"},
	} {
		w := e.serve(c.r)
		require.Equal(t, http.StatusForbidden, w.Code, c.name)
		require.Contains(t, w.Body.String(), c.msg, c.name)
	}
	// The API: the header is required.
	for _, c := range []struct {
		name  string
		token string
		msg   string
	}{
		{"no header", "", "missing CSRF token: GET /api/csrf for a token and its cookie, and send the token in the X-CSRF-Token header"},
		{"wrong header", otherToken, "invalid CSRF token"},
	} {
		r := httptest.NewRequest("POST", "/api/jobs/1/retry", nil)
		r.AddCookie(cookie)
		if c.token != "" {
			r.Header.Set("X-CSRF-Token", c.token)
		}
		w := e.serve(r)
		require.Equal(t, http.StatusForbidden, w.Code, c.name)
		require.Contains(t, decode[map[string]string](t, w)["error"], c.msg, c.name)
	}
	require.Equal(t, queue.StateDead, e.state(id), "no refused request changed anything")

	// GET never changes state, whatever it is sent to.
	for _, p := range []string{"/jobs/1/retry", "/dead/retry?id=1", "/api/jobs/1/retry"} {
		w := e.get(p)
		require.Equal(t, http.StatusMethodNotAllowed, w.Code, p)
		require.Equal(t, "POST", w.Header().Get("Allow"))
	}
	require.Equal(t, queue.StateDead, e.state(id))

	// The same request with the token of the page works.
	w = e.serve(form(pageToken, sc[0], map[string]string{"Sec-Fetch-Site": "same-origin"}))
	requireRedirect(t, w, "/dead?done=retried&n=1")
	require.Equal(t, queue.StatePending, e.state(id))
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{ReadOnly: true})
	id := e.dead(queue.NewJob{Kind: "k", Queue: "mail"}, "boom", "")
	pend := e.enqueue(queue.NewJob{Kind: "k", Queue: "mail"})
	sc := seedSchedules(e) // happy.hour is paused: its row would offer Resume
	seedTopics(e)
	for _, p := range []string{"/", "/jobs", "/dead", fmt.Sprintf("/jobs/%d", id), fmt.Sprintf("/jobs/%d", pend), "/queues",
		"/schedules", "/topics", "/topics?replay=stock", "/topics/orders.created"} {
		body := e.getOK(p)
		require.NotContains(t, body, "<form method=\"post\"", p)
		require.NotContains(t, body, `name="csrf"`, p)
		for _, action := range []string{">Retry</button>", ">Retry now</button>", ">Delete</button>", ">Cancel</button>", ">Pause</button>", ">Resume</button>", "Retry all", "selected</button>",
			">Trigger now</button>", "Replay…", ">Replay</button>", "?replay="} {
			require.NotContains(t, body, action, p)
		}
		require.Contains(t, body, `<span class="mode"`, p)
	}
	// Every POST is refused, with or without a token (there is none to get).
	require.Equal(t, http.StatusForbidden, e.get("/api/csrf").Code)
	for _, rt := range everyRoute() {
		if rt.method != "POST" {
			continue
		}
		r := httptest.NewRequest("POST", rt.path, strings.NewReader(url.Values{"id": {fmt.Sprint(id)}, "queue": {"mail"}, "name": {"feed.export"},
			"subscription": {"stock"}, "topic": {"orders.created"}, "from": {"1"}, "to": {"2"}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := e.serve(r)
		require.Equal(t, http.StatusForbidden, w.Code, rt.path)
		require.Contains(t, w.Body.String(), "read-only", rt.path)
	}
	require.Equal(t, queue.StateDead, e.state(id))
	require.Equal(t, queue.StatePending, e.state(pend))
	info := scheduleInfo(t, sc, "feed.export")
	require.False(t, info.Paused)
	require.True(t, info.TriggerAt.IsZero())
	require.Equal(t, 7, completeAll(e, "stock"), "the first deliveries only: no replay")
	// Reads still work, the API included.
	require.Len(t, decode[struct{ Jobs []any }](t, e.get("/api/dead")).Jobs, 1)
	require.Len(t, decode[struct{ Schedules []any }](t, e.get("/api/schedules")).Schedules, 3)
	require.Len(t, decode[struct{ Subscriptions []any }](t, e.get("/api/subscriptions")).Subscriptions, 3)
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	const evil = `<script>alert("x")</script>`
	id := e.dead(queue.NewJob{Kind: "k", Queue: "mail",
		Payload:  []byte(`{"note": "` + strings.ReplaceAll(evil, `"`, `\"`) + `", "raw": "\u003cimg src=x onerror=alert(1)\u003e"}`),
		Metadata: map[string]string{"who": evil, evil: "key"}},
		"handler said "+evil, "stack "+evil)
	text := e.enqueue(queue.NewJob{Kind: "k", Queue: "mail", Payload: []byte("not json " + evil)})
	e.running(queue.NewJob{Kind: "k", Queue: "mail", Args: map[string]string{"x": evil}})
	pages := []string{
		"/", "/partial/dashboard", "/jobs", "/dead", "/queues",
		fmt.Sprintf("/jobs/%d", id), fmt.Sprintf("/jobs/%d", text),
		"/jobs?q=" + url.QueryEscape(evil[:20]), "/dead?q=" + url.QueryEscape(evil[:20]),
		"/jobs?queue=a%3Cb", "/jobs/" + url.PathEscape(evil), "/" + url.PathEscape(evil),
	}
	for _, p := range pages {
		w := e.get(p)
		body := w.Body.String()
		require.NotContains(t, body, "<script>alert", p)
		require.NotContains(t, body, "<img src=x", p)
		require.NotContains(t, body, "onerror=alert(1)>", p)
	}
	body := e.getOK(fmt.Sprintf("/jobs/%d", id))
	require.Contains(t, body, "handler said &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
	require.Contains(t, body, "stack &lt;script&gt;")
	require.Contains(t, body, "&lt;img src=x onerror=alert(1)&gt;", "the payload reads as written, escaped")
	require.Contains(t, body, `<td class="mono">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</td>`, "metadata")
	require.Contains(t, e.getOK(fmt.Sprintf("/jobs/%d", text)), "not json &lt;script&gt;")
	require.Contains(t, e.getOK("/jobs?q="+url.QueryEscape(evil[:20])), `name="q" value="&lt;script&gt;alert(&#34;x&#34;)&lt;/"`)
	// The API's JSON escapes too (encoding/json escapes <, > and &).
	api := e.get(fmt.Sprintf("/api/jobs/%d", id)).Body.String()
	require.NotContains(t, api, "<script>")
	require.Contains(t, api, `\u003cscript\u003e`)
	// Security headers.
	w := e.get("/")
	require.Contains(t, w.Header().Get("Content-Security-Policy"), "script-src 'self'")
	require.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
	require.Equal(t, "DENY", w.Header().Get("X-Frame-Options"))
}

func TestBadParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	seed(e)
	long := strings.Repeat("x", admin.MaxSearchLen+1)
	for _, c := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/jobs?state=bogus", 400, `parameter "state": unknown state "bogus" (want one of pending, scheduled`},
		{"/jobs?state=", 200, ""},
		{"/jobs?limit=0", 400, `parameter "limit" is "0"; want a whole number from 1 to 500`},
		{"/jobs?limit=501", 400, "from 1 to 500"},
		{"/jobs?limit=-1", 400, "from 1 to 500"},
		{"/jobs?limit=abc", 400, `parameter "limit" is "abc"`},
		{"/jobs?limit=1e3", 400, "whole number"},
		{"/jobs?limit=99999999999999999999999", 400, "whole number"},
		{"/jobs?before=0", 400, `parameter "before" is "0"`},
		{"/jobs?before=-5", 400, "parameter \"before\""},
		{"/jobs?before=x", 400, "parameter \"before\""},
		{"/jobs?before=9223372036854775808", 400, "parameter \"before\""},
		{"/jobs?before=9223372036854775807", 200, ""},
		{"/jobs?queue=bad%20name", 400, `parameter "queue": name "bad name" has the character ' '`},
		{"/jobs?queue=" + strings.Repeat("q", 129), 400, "is longer than 128 characters"},
		{"/jobs?kind=%3Cx%3E", 400, `parameter "kind": name "<x>" has the character '<'`},
		{"/jobs?q=" + long, 400, `parameter "q" is 201 bytes long; the longest search is 200 bytes`},
		{"/jobs?q=%ff%fe", 400, `parameter "q" is not valid UTF-8`},
		{"/jobs?foo=1", 400, `unknown parameter "foo" (this page takes queue, kind, state, q, before, limit, done, n, refused, stopped, remaining)`},
		{"/jobs?queue=a&queue=b", 400, `parameter "queue" is given 2 times; give it once`},
		{"/jobs?done=hacked", 400, `parameter "done" is "hacked"; want one of`},
		{"/jobs?done=retried&n=-1", 400, `parameter "n"`},
		{"/jobs?%zz", 400, ""},
		{"/dead?state=dead", 400, `unknown parameter "state"`},
		{"/dead?limit=1000", 400, "from 1 to 500"},
		{"/jobs/abc", 400, `job ID "abc" is not a positive whole number`},
		{"/jobs/0", 400, `job ID "0" is not a positive whole number`},
		{"/jobs/-3", 400, "not a positive whole number"},
		{"/jobs/1.5", 400, "not a positive whole number"},
		{"/jobs/99999999999999999999", 400, "not a positive whole number"},
		{"/jobs/123456789", 404, "job not found"},
		{"/jobs/1?x=1", 400, `unknown parameter "x"`},
		{"/?refresh=1", 400, `unknown parameter "refresh": this page takes no parameters`},
		{"/partial/dashboard?x", 400, "unknown parameter"},
		{"/queues?queue=mail", 400, "unknown parameter"},
		{"/static/admin.css?v=1&x=2", 400, "unknown parameter"},
		{"/nope", 404, "no admin page at /nope"},
		{"/jobs/1/2/3", 404, "no admin page"},
		{"/api/nope", 404, "no admin page"},
		{"/api/jobs?limit=-1", 400, "from 1 to 500"},
		{"/api/jobs?state=zombie", 400, "unknown state"},
		{"/api/jobs/abc", 400, "not a positive whole number"},
		{"/api/dead?state=dead", 400, "unknown parameter"},
		{"/api/stats?x=1", 400, "unknown parameter"},
	} {
		w := e.get(c.path)
		require.Equal(t, c.status, w.Code, "%s: %s", c.path, w.Body.String())
		body := w.Body.String()
		if strings.HasPrefix(c.path, "/api/") {
			require.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"), c.path)
			if c.status != 200 {
				body = decode[map[string]string](t, w)["error"]
			}
		} else if c.status != 200 {
			require.Contains(t, body, fmt.Sprintf(`<p class="status">%d <span>`, c.status), c.path)
			body = htmlUnescape(body)
		}
		require.Contains(t, body, c.msg, c.path)
	}

	// Forms are checked the same way.
	for _, c := range []struct {
		path string
		form url.Values
		msg  string
	}{
		{"/dead/retry", url.Values{"ids": {"abc"}}, `job ID "abc" is not a positive whole number`},
		{"/dead/retry", url.Values{"id": {"-1"}}, "not a positive whole number"},
		{"/dead/retry", url.Values{"id": {"1", "2"}}, `parameter "id" is given 2 times`},
		{"/dead/retry", url.Values{"all": {"yes"}}, `parameter "all" is "yes"; want 1 or 0`},
		{"/dead/retry", url.Values{"all": {"1"}, "queue": {"no way"}}, `parameter "queue": name "no way"`},
		{"/dead/retry", url.Values{"all": {"1"}, "q": {long}}, "the longest search is 200 bytes"},
		{"/dead/retry", url.Values{"evil": {"1"}}, `unknown parameter "evil"`},
		{"/dead/retry", url.Values{"ids": manyIDs(admin.MaxIDs + 1)}, "1001 job IDs in one request; at most 1000"},
		{"/queues/pause", url.Values{"queue": {"a b"}}, `parameter "queue": name "a b"`},
		{"/jobs/x/retry", nil, `job ID "x" is not a positive whole number`},
		{"/jobs/1/retry", url.Values{"id": {"2"}}, `unknown parameter "id"`},
	} {
		w := e.post(c.path, c.form)
		require.Equal(t, http.StatusBadRequest, w.Code, "%s %v: %s", c.path, c.form, w.Body.String())
		require.Contains(t, htmlUnescape(w.Body.String()), c.msg, c.path)
	}
	// Parameters of an action go in the body.
	w := e.post("/queues/pause?queue=mail", nil)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Contains(t, w.Body.String(), "in the form body, not the URL")
	// Wrong methods.
	r := httptest.NewRequest("DELETE", "/jobs/1", nil)
	w = e.serve(r)
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Equal(t, "GET, HEAD", w.Header().Get("Allow"))
	r = httptest.NewRequest("PUT", "/api/queues/pause", nil)
	require.Equal(t, http.StatusMethodNotAllowed, e.serve(r).Code)
	// HEAD works like GET without a body.
	r = httptest.NewRequest("HEAD", "/jobs", nil)
	w = e.serve(r)
	require.Equal(t, http.StatusOK, w.Code)
	require.Zero(t, w.Body.Len())
}

func manyIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(i + 1)
	}
	return out
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

func TestPrefix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{Prefix: "/ops/spool"})
	id := e.dead(queue.NewJob{Kind: "k", Queue: "mail"}, "boom", "")
	mux := http.NewServeMux()
	mux.Handle("/ops/spool/", e.h)
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		r.SetBasicAuth(testUser, testPass)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}
	w := serve(httptest.NewRequest("GET", "/ops/spool/", nil))
	require.Equal(t, http.StatusOK, w.Code)
	body := w.Body.String()
	for _, link := range []string{`href="/ops/spool/"`, `href="/ops/spool/jobs"`, `href="/ops/spool/dead"`, `href="/ops/spool/queues"`,
		`href="/ops/spool/schedules"`, `href="/ops/spool/topics"`,
		`href="/ops/spool/static/admin.css?v=`, `src="/ops/spool/static/admin.js?v=`, `data-refresh-url="/ops/spool/partial/dashboard"`,
		`href="/ops/spool/dead?queue=mail"`} {
		require.Contains(t, body, link)
	}
	require.Equal(t, "/ops/spool/", w.Result().Cookies()[0].Path)
	body = serve(httptest.NewRequest("GET", fmt.Sprintf("/ops/spool/jobs/%d", id), nil)).Body.String()
	require.Contains(t, body, fmt.Sprintf(`action="/ops/spool/jobs/%d/retry"`, id))
	require.Contains(t, serve(httptest.NewRequest("GET", "/ops/spool/dead", nil)).Body.String(), `formaction="/ops/spool/dead/delete"`)

	w = e.post("/dead/retry", url.Values{"id": {fmt.Sprint(id)}})
	requireRedirect(t, w, "/ops/spool/dead?done=retried&n=1")

	// Schedules and topics build their links and forms with the prefix too.
	seedSchedules(e)
	seedTopics(e)
	body = serve(httptest.NewRequest("GET", "/ops/spool/schedules", nil)).Body.String()
	require.Contains(t, body, `action="/ops/spool/schedules/trigger"`)
	require.Contains(t, body, `href="/ops/spool/jobs?queue=exports&amp;kind=feed.export"`)
	body = serve(httptest.NewRequest("GET", "/ops/spool/topics?replay=stock", nil)).Body.String()
	require.Contains(t, body, `href="/ops/spool/topics/orders.created"`)
	require.Contains(t, body, `href="/ops/spool/topics?replay=stock#replay"`)
	require.Contains(t, body, `action="/ops/spool/subscriptions/replay"`)
	body = serve(httptest.NewRequest("GET", "/ops/spool/topics/orders.created?limit=2", nil)).Body.String()
	require.Contains(t, body, `action="/ops/spool/topics/orders.created"`)
	require.Contains(t, body, `rel="next" href="/ops/spool/topics/orders.created?limit=2&amp;to=5"`)
	w = e.post("/schedules/trigger", url.Values{"name": {"feed.export"}})
	requireRedirect(t, w, "/ops/spool/schedules?done=triggered&n=1&name=feed.export")
	w = e.postJSON("/api/schedules/feed.export/pause", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())

	// The prefix without its slash redirects; paths outside are not ours.
	w = serve(httptest.NewRequest("GET", "/ops/spool", nil))
	require.Equal(t, "/ops/spool/", w.Header().Get("Location"), "the mux redirects")
	w = e.get("?x=1") // the handler itself, mounted at "/ops/spool" exactly
	require.Equal(t, http.StatusMovedPermanently, w.Code)
	require.Equal(t, "/ops/spool/?x=1", w.Header().Get("Location"))
	r := httptest.NewRequest("GET", "/jobs", nil)
	r.SetBasicAuth(testUser, testPass)
	w = httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Contains(t, htmlUnescape(w.Body.String()), `/jobs is outside the admin's Options.Prefix "/ops/spool": mount the handler at "/ops/spool/" without http.StripPrefix`)
	// Mounted with StripPrefix by mistake: the same clear message.
	mux2 := http.NewServeMux()
	mux2.Handle("/ops/spool/", http.StripPrefix("/ops/spool", e.h))
	r = httptest.NewRequest("GET", "/ops/spool/jobs", nil)
	r.SetBasicAuth(testUser, testPass)
	w = httptest.NewRecorder()
	mux2.ServeHTTP(w, r)
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Contains(t, w.Body.String(), "without http.StripPrefix")
}

func TestServerErrors(t *testing.T) {
	t.Parallel()
	// A read that runs out of Options.QueryTimeout: 503 with advice.
	e := newEnv(t, admin.Options{QueryTimeout: time.Nanosecond})
	w := e.get("/jobs?q=anything")
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Contains(t, w.Body.String(), "the query took longer than 1ns (Options.QueryTimeout): narrow the filter")
	w = e.get("/api/stats")
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Contains(t, decode[map[string]string](t, w)["error"], "Options.QueryTimeout")

	// An unexpected failure: 500 without details, and a log record.
	var logs bytes.Buffer
	e2 := newEnv(t, admin.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, e2.store.Close())
	w = e2.get("/api/stats")
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Equal(t, "internal error; the server log has the details", decode[map[string]string](t, w)["error"])
	w = e2.get("/")
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Contains(t, w.Body.String(), "internal error; the server log has the details")
	require.Contains(t, logs.String(), "spool admin: request failed")
	require.Contains(t, logs.String(), "path=/api/stats")
}
