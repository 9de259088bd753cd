package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// t0 is the fake clock's start: tests see fixed times and ages.
var t0 = time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC)

type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration // added after every reading (Step)
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(c.step)
	return t
}

// Step makes every later reading of the clock move it on by d, as time
// passing while the code works; 0 stops it again.
func (c *fakeClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.step = d
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	testUser = "admin"
	testPass = "correct horse"
)

// env is a queue on a real SQLite file in t.TempDir() with an admin
// handler in front of it.
type env struct {
	t     *testing.T
	q     *queue.Queue
	store *sqlite.Store
	clock *fakeClock
	h     *admin.Handler
	// prefix is Options.Prefix: get, post and postJSON prepend it.
	prefix string
	// cookie and token are the CSRF pair, fetched on first use.
	cookie *http.Cookie
	token  string
}

// newTestQueue opens a spool database in t.TempDir() with a fake clock.
func newTestQueue(t *testing.T) (*queue.Queue, *sqlite.Store, *fakeClock) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "spool.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	clock := &fakeClock{t: t0}
	q, err := queue.New(store, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	return q, store, clock
}

// newEnv returns an env whose handler has opts, with basic auth by
// default.
func newEnv(t *testing.T, opts admin.Options) *env {
	t.Helper()
	q, store, clock := newTestQueue(t)
	if opts.Authorize == nil && !opts.NoAuth {
		opts.Authorize = admin.BasicAuth(testUser, testPass)
	}
	h, err := admin.New(q, opts)
	require.NoError(t, err)
	return &env{t: t, q: q, store: store, clock: clock, h: h, prefix: opts.Prefix}
}

// serve runs one request through the handler, with basic auth.
func (e *env) serve(r *http.Request) *httptest.ResponseRecorder {
	if _, _, ok := r.BasicAuth(); !ok && r.Header.Get("Authorization") == "" {
		r.SetBasicAuth(testUser, testPass)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func (e *env) get(path string) *httptest.ResponseRecorder {
	return e.serve(httptest.NewRequest("GET", e.prefix+path, nil))
}

// getOK gets a page, requires 200 and returns its body.
func (e *env) getOK(path string) string {
	e.t.Helper()
	w := e.get(path)
	require.Equal(e.t, http.StatusOK, w.Code, "GET %s: %s", path, w.Body.String())
	return w.Body.String()
}

var tokenRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns a cookie and token pair from GET /api/csrf.
func (e *env) csrf() (*http.Cookie, string) {
	e.t.Helper()
	if e.cookie == nil {
		w := e.get("/api/csrf")
		require.Equal(e.t, http.StatusOK, w.Code, w.Body.String())
		var body struct{ Token string }
		require.NoError(e.t, json.Unmarshal(w.Body.Bytes(), &body))
		cookies := w.Result().Cookies()
		require.Len(e.t, cookies, 1)
		e.cookie, e.token = cookies[0], body.Token
	}
	return e.cookie, e.token
}

// post submits a form the way a browser does: the CSRF cookie, the token
// in the form, a same-origin fetch.
func (e *env) post(path string, form url.Values) *httptest.ResponseRecorder {
	e.t.Helper()
	cookie, token := e.csrf()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", token)
	r := httptest.NewRequest("POST", e.prefix+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.AddCookie(cookie)
	return e.serve(r)
}

// postJSON calls an API action with the token in the header.
func (e *env) postJSON(path, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	cookie, token := e.csrf()
	r := httptest.NewRequest("POST", e.prefix+path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("X-CSRF-Token", token)
	r.AddCookie(cookie)
	return e.serve(r)
}

// decode decodes a JSON answer.
func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	require.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"), w.Body.String())
	var v T
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v), w.Body.String())
	return v
}

func (e *env) enqueue(j queue.NewJob) int64 {
	e.t.Helper()
	res, err := e.q.Enqueue(context.Background(), j)
	require.NoError(e.t, err)
	return res.ID
}

// running enqueues j and leases it, as a worker named "worker-1" would.
func (e *env) running(j queue.NewJob) *queue.Job {
	e.t.Helper()
	j.Priority = queue.MaxPriority // leased before anything else in its queue
	id := e.enqueue(j)
	if j.Queue == "" {
		j.Queue = queue.DefaultQueue
	}
	now := e.clock.Now()
	res, err := e.store.Lease(context.Background(), queue.LeaseParams{Queue: j.Queue, Limit: 1, Now: now, Until: now.Add(30 * time.Second), Worker: "worker-1"})
	require.NoError(e.t, err)
	require.Len(e.t, res.Jobs, 1)
	require.Equal(e.t, id, res.Jobs[0].ID)
	return res.Jobs[0]
}

// settle settles a leased job with an outcome.
func (e *env) settle(j *queue.Job, o queue.Outcome, msg, stack string) {
	e.t.Helper()
	now := e.clock.Now()
	s := queue.Settlement{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue, Outcome: o, Now: now, RunAt: now.Add(24 * time.Hour)}
	if msg != "" {
		s.Error = &queue.AttemptError{Attempt: j.Attempt, At: now, Message: msg, Stack: stack}
	}
	if o == queue.OutcomeDead {
		s.Reason = "permanent error: " + msg
	}
	errs, err := e.store.Settle(context.Background(), nil, []queue.Settlement{s})
	require.NoError(e.t, err)
	require.NoError(e.t, errs[0])
}

// retryNow fails a leased job's attempt with msg, due again at once, and
// leases it again: the job's next attempt.
func (e *env) retryNow(j *queue.Job, msg string) *queue.Job {
	e.t.Helper()
	now := e.clock.Now()
	errs, err := e.store.Settle(context.Background(), nil, []queue.Settlement{{JobID: j.ID, Token: j.LeaseToken, Queue: j.Queue,
		Outcome: queue.OutcomeRetry, Now: now, RunAt: now, Error: &queue.AttemptError{Attempt: j.Attempt, At: now, Message: msg}}})
	require.NoError(e.t, err)
	require.NoError(e.t, errs[0])
	e.clock.Add(time.Second)
	now = e.clock.Now()
	res, err := e.store.Lease(context.Background(), queue.LeaseParams{Queue: j.Queue, Limit: 1, Now: now, Until: now.Add(30 * time.Second), Worker: "worker-2"})
	require.NoError(e.t, err)
	require.Len(e.t, res.Jobs, 1)
	require.Equal(e.t, j.ID, res.Jobs[0].ID)
	return res.Jobs[0]
}

// dead makes a dead job whose one attempt failed with msg and stack.
func (e *env) dead(j queue.NewJob, msg, stack string) int64 {
	e.t.Helper()
	lj := e.running(j)
	e.settle(lj, queue.OutcomeDead, msg, stack)
	return lj.ID
}

// state returns a job's state, or "gone".
func (e *env) state(id int64) queue.State {
	e.t.Helper()
	j, err := e.q.Inspector().Get(context.Background(), id)
	if errors.Is(err, queue.ErrNotFound) {
		return "gone"
	}
	require.NoError(e.t, err)
	return j.State
}

// withOutput enqueues j and completes it, kept, with output and progress
// (its At set to the clock's now), as a worker would.
func (e *env) withOutput(j queue.NewJob, output []byte, progress *queue.Progress) int64 {
	e.t.Helper()
	leased := e.running(j)
	now := e.clock.Now()
	if progress != nil {
		progress.At = now
	}
	errs, err := e.store.Settle(context.Background(), nil, []queue.Settlement{{JobID: leased.ID, Token: leased.LeaseToken, Queue: leased.Queue,
		Outcome: queue.OutcomeComplete, Keep: true, Now: now, Output: output, Progress: progress}})
	require.NoError(e.t, err)
	require.NoError(e.t, errs[0])
	return leased.ID
}
