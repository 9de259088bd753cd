package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"mime"
	"net/http"
	"strings"
)

// BasicAuth returns an Options.Authorize that accepts requests carrying
// HTTP basic auth with the given user name and password. It compares in
// constant time (also for inputs of different lengths). An empty user
// name or password refuses every request. Serve the admin over HTTPS:
// basic auth sends the password with every request.
func BasicAuth(user, password string) func(*http.Request) bool {
	wantUser := sha256.Sum256([]byte(user))
	wantPass := sha256.Sum256([]byte(password))
	enabled := user != "" && password != ""
	return func(r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		gotUser := sha256.Sum256([]byte(u))
		gotPass := sha256.Sum256([]byte(p))
		// Both comparisons run every time: no early exit that would tell
		// a right user name from a wrong one.
		match := subtle.ConstantTimeCompare(gotUser[:], wantUser[:]) & subtle.ConstantTimeCompare(gotPass[:], wantPass[:])
		return ok && enabled && match == 1
	}
}

// CSRF protection is a signed double-submit cookie: the cookie holds a
// random nonce, and the token that forms (field "csrf") and API calls
// (header X-CSRF-Token) must send is HMAC-SHA256(secret, nonce). A page of
// another site can neither read the token nor set the cookie. On top,
// net/http's CrossOriginProtection refuses POSTs that the browser marks as
// cross-site (Sec-Fetch-Site, Origin).
//
// Served over HTTPS, the cookie is named with the "__Host-" prefix and is
// Secure: browsers then accept it only from this host over HTTPS with
// Path=/, so a sibling subdomain or a plain-HTTP page cannot plant one.
// Every cookie of the name counts: a planted (tossed) cookie sent before
// the real one does not lock the operator out.
const (
	csrfCookie       = "spool_admin_csrf"
	csrfSecureCookie = "__Host-" + csrfCookie
	csrfField        = "csrf"
	csrfHeader       = "X-CSRF-Token"
)

// secure reports whether the request reached the admin over HTTPS: on a
// TLS connection, or, with Options.TrustProxy, through a proxy that says
// so in X-Forwarded-Proto.
func (h *Handler) secure(r *http.Request) bool {
	return r.TLS != nil || (h.opts.TrustProxy && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https"))
}

// csrfCookieName is the CSRF cookie's name for r.
func (h *Handler) csrfCookieName(r *http.Request) string {
	if h.secure(r) {
		return csrfSecureCookie
	}
	return csrfCookie
}

// csrfToken returns the token for the request's cookie, first setting a new
// cookie on w when the request has none (or only malformed ones).
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if nonces := h.cookieNonces(r); len(nonces) > 0 {
		// Several: a browser sends the most specific path first, which is
		// the admin's own.
		return h.sign(nonces[0])
	}
	b := make([]byte, 32)
	rand.Read(b)
	nonce := base64.RawURLEncoding.EncodeToString(b)
	c := &http.Cookie{
		Name:     csrfCookie,
		Value:    nonce,
		Path:     h.url("/"),
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	}
	if h.secure(r) {
		// "__Host-" requires Secure and Path=/ (and no Domain).
		c.Name, c.Path, c.Secure = csrfSecureCookie, "/", true
	}
	http.SetCookie(w, c)
	return h.sign(nonce)
}

// cookieNonces returns the well-formed nonces of every CSRF cookie the
// request carries under the name for its scheme, in the request's order.
func (h *Handler) cookieNonces(r *http.Request) []string {
	var nonces []string
	for _, c := range r.CookiesNamed(h.csrfCookieName(r)) {
		b, err := base64.RawURLEncoding.DecodeString(c.Value)
		if err != nil || len(b) != 32 {
			continue
		}
		nonces = append(nonces, c.Value)
		if len(nonces) == maxCSRFCookies {
			break
		}
	}
	return nonces
}

// maxCSRFCookies bounds the cookies of the CSRF name one check signs.
const maxCSRFCookies = 8

func (h *Handler) sign(nonce string) string {
	m := hmac.New(sha256.New, h.secret)
	m.Write([]byte("spool admin csrf\x00"))
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF verifies a POST: same origin, and a token matching one of the
// request's CSRF cookies. It parses a form body (so handlers find
// r.PostForm filled) but leaves other bodies to the handler.
func (h *Handler) checkCSRF(r *http.Request, api bool) error {
	if err := h.crossOri.Check(r); err != nil {
		return errForbidden("cross-origin request refused: " + err.Error())
	}
	token := r.Header.Get(csrfHeader)
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		r.Body = http.MaxBytesReader(nil, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			return errBadRequest("cannot read the form: %v", err)
		}
		if token == "" {
			token = r.PostForm.Get(csrfField)
		}
	}
	how := "reload the page and try again"
	if api {
		how = "GET " + h.url("/api/csrf") + " for a token and its cookie, and send the token in the " + csrfHeader + " header"
	}
	if token == "" {
		return errForbidden("missing CSRF token: " + how)
	}
	nonces := h.cookieNonces(r)
	if len(nonces) == 0 {
		return errForbidden("missing CSRF cookie: " + how)
	}
	for _, nonce := range nonces {
		if hmac.Equal([]byte(token), []byte(h.sign(nonce))) {
			return nil
		}
	}
	return errForbidden("invalid CSRF token: " + how)
}
