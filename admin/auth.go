package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"mime"
	"net/http"
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
const (
	csrfCookie = "spool_admin_csrf"
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
)

// csrfToken returns the token for the request's cookie, first setting a new
// cookie on w when the request has none (or a malformed one).
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if nonce, ok := h.cookieNonce(r); ok {
		return h.sign(nonce)
	}
	b := make([]byte, 32)
	rand.Read(b)
	nonce := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name:     csrfCookie,
		Value:    nonce,
		Path:     h.url("/"),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	return h.sign(nonce)
}

func (h *Handler) cookieNonce(r *http.Request) (string, bool) {
	c, err := r.Cookie(csrfCookie)
	if err != nil {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) != 32 {
		return "", false
	}
	return c.Value, true
}

func (h *Handler) sign(nonce string) string {
	m := hmac.New(sha256.New, h.secret)
	m.Write([]byte("spool admin csrf\x00"))
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF verifies a POST: same origin, and a token matching the cookie.
// It parses a form body (so handlers find r.PostForm filled) but leaves
// other bodies to the handler.
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
	nonce, ok := h.cookieNonce(r)
	if !ok {
		return errForbidden("missing CSRF cookie: " + how)
	}
	if !hmac.Equal([]byte(token), []byte(h.sign(nonce))) {
		return errForbidden("invalid CSRF token: " + how)
	}
	return nil
}
