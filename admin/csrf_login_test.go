package admin_test

import (
	"crypto/tls"
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

// A tossed cookie (one of the CSRF name planted by a sibling subdomain or
// a plain-HTTP page, sent before the real one) does not lock the operator
// out: every cookie of the name is considered.
func TestCSRFTossedCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	id := e.dead(queue.NewJob{Kind: "k"}, "boom", "")
	cookie, token := e.csrf()
	other := newEnv(t, admin.Options{})
	tossed, _ := other.csrf() // well formed, another nonce
	v := url.Values{"id": {fmt.Sprint(id)}, "csrf": {token}}
	r := httptest.NewRequest("POST", "/dead/retry", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.AddCookie(tossed)
	r.AddCookie(cookie)
	requireRedirect(t, e.serve(r), "/dead?done=retried&n=1")
	require.Equal(t, queue.StatePending, e.state(id))
}

// Over HTTPS (TLS, or a trusted proxy that says so) the CSRF cookie is
// Secure and named "__Host-…" with Path=/; a cookie of the plain name then
// does not count.
func TestCSRFSecureCookie(t *testing.T) {
	t.Parallel()
	cookieOf := func(e *env, r *http.Request) *http.Cookie {
		w := e.serve(r)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		cs := w.Result().Cookies()
		require.Len(t, cs, 1)
		return cs[0]
	}
	e := newEnv(t, admin.Options{Prefix: "/admin"})
	plain := cookieOf(e, httptest.NewRequest("GET", "/admin/api/csrf", nil))
	require.Equal(t, "spool_admin_csrf", plain.Name)
	require.False(t, plain.Secure)
	require.Equal(t, "/admin/", plain.Path)

	tlsReq := func(path string) *http.Request {
		r := httptest.NewRequest("GET", path, nil)
		r.TLS = &tls.ConnectionState{}
		return r
	}
	sec := cookieOf(e, tlsReq("/admin/jobs"))
	require.Equal(t, "__Host-spool_admin_csrf", sec.Name)
	require.True(t, sec.Secure)
	require.Equal(t, "/", sec.Path)
	require.True(t, sec.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, sec.SameSite)

	// Behind a proxy, only when it is trusted.
	fwd := httptest.NewRequest("GET", "/admin/jobs", nil)
	fwd.Header.Set("X-Forwarded-Proto", "https")
	require.Equal(t, "spool_admin_csrf", cookieOf(e, fwd).Name, "an untrusted X-Forwarded-Proto changes nothing")
	trusting := newEnv(t, admin.Options{TrustProxy: true})
	fwd = httptest.NewRequest("GET", "/jobs", nil)
	fwd.Header.Set("X-Forwarded-Proto", "https")
	c := cookieOf(trusting, fwd)
	require.Equal(t, "__Host-spool_admin_csrf", c.Name)
	require.True(t, c.Secure)

	// Over TLS an action needs the __Host- cookie; the plain one is not
	// enough.
	id := e.dead(queue.NewJob{Kind: "k"}, "boom", "")
	post := func(c *http.Cookie, token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/admin/api/jobs/"+fmt.Sprint(id)+"/retry", nil)
		r.TLS = &tls.ConnectionState{}
		r.Header.Set("X-CSRF-Token", token)
		r.AddCookie(c)
		return e.serve(r)
	}
	w := e.serve(tlsReq("/admin/api/csrf"))
	token := decode[map[string]string](t, w)["token"]
	require.Equal(t, "__Host-spool_admin_csrf", decode[map[string]string](t, w)["cookie"])
	secure := w.Result().Cookies()[0]
	plainAsSecure := &http.Cookie{Name: "spool_admin_csrf", Value: secure.Value}
	require.Equal(t, http.StatusForbidden, post(plainAsSecure, token).Code)
	require.Equal(t, http.StatusOK, post(secure, token).Code)
}

// Failed logins are limited per client: after 10 failures in a row the
// client gets 429 with Retry-After, without its credentials being checked
// (the right password too), until a token has refilled; other clients
// are not affected.
func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, admin.Options{})
	try := func(addr, pass string, hdr ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/api/stats", nil)
		r.RemoteAddr = addr
		r.SetBasicAuth(testUser, pass)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		return e.serve(r)
	}
	for i := range 10 {
		require.Equal(t, http.StatusUnauthorized, try("192.0.2.7:1000", "guess").Code, "failure %d", i+1)
	}
	w := try("192.0.2.7:1001", "guess")
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, "6", w.Header().Get("Retry-After"))
	require.Contains(t, decode[map[string]string](t, w)["error"], "too many failed logins from 192.0.2.7")
	require.Equal(t, http.StatusTooManyRequests, try("192.0.2.7:1002", testPass).Code, "no password is checked while limited")
	require.Equal(t, http.StatusOK, try("192.0.2.8:1000", testPass).Code, "another client")
	// A request without credentials (a browser's first visit) costs nothing.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.0.2.9:1"
	for range 20 {
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		require.Equal(t, http.StatusUnauthorized, w.Code)
	}
	require.Equal(t, http.StatusOK, try("192.0.2.9:1", testPass).Code)

	// One token back after 6s: one more try.
	e.clock.Add(6 * time.Second)
	require.Equal(t, http.StatusOK, try("192.0.2.7:1003", testPass).Code)
	require.Equal(t, http.StatusOK, try("192.0.2.7:1003", testPass).Code, "successes cost nothing")
	require.Equal(t, http.StatusUnauthorized, try("192.0.2.7:1003", "guess").Code)
	require.Equal(t, http.StatusTooManyRequests, try("192.0.2.7:1003", "guess").Code)

	// An IPv6 client counts by its /64.
	for i := range 10 {
		require.Equal(t, http.StatusUnauthorized, try(fmt.Sprintf("[2001:db8:1:2::%x]:1000", i+1), "guess").Code)
	}
	w = try("[2001:db8:1:2:ffff::1]:1000", testPass)
	require.Equal(t, http.StatusTooManyRequests, w.Code, "another address of the same /64")
	require.Contains(t, decode[map[string]string](t, w)["error"], "from 2001:db8:1:2::/64")
	require.Equal(t, http.StatusOK, try("[2001:db8:1:3::1]:1000", testPass).Code, "another /64")

	// Behind a trusted proxy the client is the last X-Forwarded-For
	// address; without trust the header is ignored.
	p := newEnv(t, admin.Options{TrustProxy: true})
	for range 10 {
		r := httptest.NewRequest("GET", "/api/stats", nil)
		r.RemoteAddr = "10.0.0.1:1" // the proxy
		r.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.5")
		r.SetBasicAuth(testUser, "guess")
		require.Equal(t, http.StatusUnauthorized, p.serve(r).Code)
	}
	viaProxy := func(xff string) int {
		r := httptest.NewRequest("GET", "/api/stats", nil)
		r.RemoteAddr = "10.0.0.1:1"
		r.Header.Set("X-Forwarded-For", xff)
		r.SetBasicAuth(testUser, testPass)
		return p.serve(r).Code
	}
	require.Equal(t, http.StatusTooManyRequests, viaProxy("203.0.113.5"))
	require.Equal(t, http.StatusOK, viaProxy("203.0.113.6"), "another client behind the same proxy")
	for range 10 {
		require.Equal(t, http.StatusUnauthorized, try("192.0.2.20:1", "guess", "X-Forwarded-For", "203.0.113.77").Code)
	}
	require.Equal(t, http.StatusTooManyRequests, try("192.0.2.20:1", testPass, "X-Forwarded-For", "203.0.113.78").Code,
		"an untrusted X-Forwarded-For does not pick the client")
}
