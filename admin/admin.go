package admin

import (
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/schedule"
)

//go:embed templates static
var files embed.FS

// Options configure a Handler. Authentication is the one decision without a
// default: set Authorize, or set NoAuth.
type Options struct {
	// Authorize decides whether a request may use the admin: pages, the
	// JSON API and the static files. Required unless NoAuth is set.
	// BasicAuth returns one for a user name and password. Refused requests
	// get Unauthorized.
	Authorize func(*http.Request) bool
	// NoAuth serves every request without asking Authorize. Set it only
	// when another layer authenticates (the app's own middleware in front
	// of the handler, a private network). Setting both Authorize and NoAuth
	// is an error.
	NoAuth bool
	// Unauthorized answers the requests that Authorize refused. Defaults to
	// 401 Unauthorized with a "WWW-Authenticate: Basic" challenge, which
	// makes browsers ask for the user name and password that BasicAuth
	// checks. Apps with their own login set it, for example to redirect to
	// their login page.
	Unauthorized http.Handler
	// ReadOnly hides every action (retry, delete, cancel, pause, resume,
	// trigger, replay) and refuses every POST with 403 Forbidden, also
	// through the JSON API.
	ReadOnly bool
	// Prefix is the path the handler is mounted under, such as "/admin":
	// it serves Prefix+"/" and the paths below, and builds its links with
	// Prefix. Mount it as is, without http.StripPrefix:
	//
	//	mux.Handle("/admin/", h) // with Options{Prefix: "/admin"}
	//
	// Defaults to "" (the handler serves "/"). It must start with "/" and
	// must not end with "/".
	Prefix string
	// RefreshInterval is how often the pages refresh in the browser (with
	// a small script that fetches their live parts; the pages work without
	// JavaScript). Defaults to 5s; negative turns it off. At least 1s.
	RefreshInterval time.Duration
	// BulkBudget bounds how long one bulk cancel or delete of waiting jobs
	// (the jobs list's bulk bar, /api/jobs/cancel and /api/jobs/delete)
	// starts new work: it changes one job per transaction, and MaxBulk of
	// them can outlast the server's write timeout. Once the budget is
	// spent, or the request is cancelled, it stops between two jobs and
	// answers what it did and that the rest is left to run again.
	// Defaults to 10s, well under the 2m write timeout of spool admin;
	// keep it under the write timeout of the server the handler is
	// mounted on. Negative turns the budget off (MaxBulk still bounds a
	// call).
	BulkBudget time.Duration
	// QueryTimeout bounds every read of a page or an API call. A text
	// search over a large table that takes longer gets 503 Service
	// Unavailable with a message to narrow the filter. Defaults to 10s.
	QueryTimeout time.Duration
	// Secret keys the CSRF tokens. Defaults to 32 random bytes per Handler,
	// so a restart invalidates open forms (a reload fixes them). Set the
	// same secret of at least 32 bytes on every process when several serve
	// the admin behind one load balancer.
	Secret []byte
	// TrustProxy says that the handler is served behind a reverse proxy
	// that terminates TLS and sets X-Forwarded-Proto and X-Forwarded-For,
	// replacing whatever the client sent in them. The handler then takes a
	// request with "X-Forwarded-Proto: https" as served over HTTPS (its
	// CSRF cookie is then Secure and named "__Host-spool_admin_csrf", as on
	// a TLS connection), and counts failed logins per the last address of
	// X-Forwarded-For instead of per connection. Leave it false when
	// clients reach the handler directly: they could send those headers
	// themselves.
	TrustProxy bool
	// Logger receives a record for every request that failed with a server
	// error. Defaults to the queue's logger.
	Logger *slog.Logger
	// Schedules is the scheduler whose schedules the Schedules page lists
	// and acts on: pass the app's own, so that the page can tell which
	// schedules this process registered. Defaults to a scheduler over the
	// queue with nothing registered (schedule.New, never started: it runs
	// no goroutine), which lists, pauses, resumes and triggers the
	// schedules stored by any process on the database; a trigger is then
	// served by the next round of a process that registered the schedule.
	Schedules *schedule.Scheduler
}

// Default option values.
const (
	DefaultRefreshInterval = 5 * time.Second
	DefaultQueryTimeout    = 10 * time.Second
	DefaultBulkBudget      = 10 * time.Second
)

// Limits on what one request may ask for.
const (
	// MaxPageSize is the largest page of jobs a list shows or returns.
	MaxPageSize = 500
	// DefaultPageSize is the page size when a request sets no limit.
	DefaultPageSize = 50
	// MaxSearchLen is the longest text search, in bytes.
	MaxSearchLen = 200
	// MaxIDs is the most job IDs one bulk action may name.
	MaxIDs = 1000
	// maxBody caps request bodies (forms and JSON).
	maxBody = 1 << 20
)

// Handler serves the admin pages and the JSON API for one queue. Create it
// with New. It is safe for concurrent use.
type Handler struct {
	q        *queue.Queue
	sched    *schedule.Scheduler // nil when the store keeps no schedules
	opts     Options
	logger   *slog.Logger
	secret   []byte
	pages    map[string]*template.Template
	static   map[string]staticFile
	cssURL   string
	jsURL    string
	routes   []route
	crossOri *http.CrossOriginProtection
	corrupt  corruptWatch // the last corruption error seen, for the banner
	logins   *loginLimiter
}

// New returns the admin handler for q. It returns an error when the
// options are invalid, in particular when neither Options.Authorize nor
// Options.NoAuth is set.
func New(q *queue.Queue, opts Options) (*Handler, error) {
	if q == nil {
		return nil, errors.New("admin: queue is nil")
	}
	if err := checkAuth(opts); err != nil {
		return nil, err
	}
	if err := checkPrefix(opts.Prefix); err != nil {
		return nil, err
	}
	if err := applyTimings(&opts); err != nil {
		return nil, err
	}
	secret, err := csrfSecret(opts.Secret)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = q.Logger()
	}
	h := &Handler{q: q, opts: opts, logger: logger, secret: secret, crossOri: http.NewCrossOriginProtection(), logins: newLoginLimiter(q.Now)}
	h.sched = scheduler(q, opts.Schedules, logger)
	if err := h.loadStatic(); err != nil {
		return nil, err
	}
	if err := h.parseTemplates(); err != nil {
		return nil, err
	}
	h.routes = h.routeTable()
	return h, nil
}

// checkAuth requires exactly one of Options.Authorize and Options.NoAuth.
func checkAuth(opts Options) error {
	switch {
	case opts.Authorize == nil && !opts.NoAuth:
		return errors.New("admin: Options.Authorize is nil: set it (for example to admin.BasicAuth(user, password)), or set Options.NoAuth when another layer authenticates")
	case opts.Authorize != nil && opts.NoAuth:
		return errors.New("admin: Options.Authorize and Options.NoAuth are both set: choose one")
	}
	return nil
}

// checkPrefix accepts "" or a clean path of plain characters that starts
// with "/" and does not end with "/".
func checkPrefix(p string) error {
	if p == "" {
		return nil
	}
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return fmt.Errorf("admin: Options.Prefix %q must start with \"/\" and must not end with \"/\" (for example \"/admin\")", p)
	}
	for _, c := range p {
		if c <= ' ' || c == '?' || c == '#' || c == '%' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\' || c > '~' {
			return fmt.Errorf("admin: Options.Prefix %q has the character %q; use a plain path such as \"/admin\"", p, c)
		}
	}
	// A prefix that is not a clean path never matches the cleaned
	// request paths, and one starting "//" would make its own links
	// point at another host.
	if path.Clean(p) != p {
		return fmt.Errorf("admin: Options.Prefix %q is not a clean path (no \"//\", \".\" or \"..\" parts); use a plain path such as \"/admin\"", p)
	}
	return nil
}

// applyTimings checks Options.RefreshInterval and Options.QueryTimeout and
// sets their defaults and Options.BulkBudget's.
func applyTimings(opts *Options) error {
	switch {
	case opts.RefreshInterval == 0:
		opts.RefreshInterval = DefaultRefreshInterval
	case opts.RefreshInterval > 0 && opts.RefreshInterval < time.Second:
		return fmt.Errorf("admin: Options.RefreshInterval %s is shorter than 1s", opts.RefreshInterval)
	}
	if opts.BulkBudget == 0 {
		opts.BulkBudget = DefaultBulkBudget
	}
	switch {
	case opts.QueryTimeout == 0:
		opts.QueryTimeout = DefaultQueryTimeout
	case opts.QueryTimeout < 0:
		return fmt.Errorf("admin: Options.QueryTimeout %s is negative", opts.QueryTimeout)
	}
	return nil
}

// csrfSecret returns a copy of Options.Secret, or 32 random bytes when it
// is nil.
func csrfSecret(secret []byte) ([]byte, error) {
	switch {
	case secret == nil:
		secret = make([]byte, 32)
		rand.Read(secret)
		return secret, nil
	case len(secret) < 32:
		return nil, fmt.Errorf("admin: Options.Secret has %d bytes; use at least 32 random bytes", len(secret))
	default:
		return append([]byte(nil), secret...), nil
	}
}

// scheduler returns the app's scheduler, or else one over q with nothing
// registered; nil when the store keeps no schedules.
func scheduler(q *queue.Queue, s *schedule.Scheduler, logger *slog.Logger) *schedule.Scheduler {
	if s != nil {
		return s
	}
	// Cheap: New starts nothing. It fails only for a store without
	// queue.ScheduleStore, whose Schedules page then says so.
	if s, err := schedule.New(q, schedule.Options{Logger: logger}); err == nil {
		return s
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

	path, ok := h.strip(r.URL.Path)
	if !ok {
		if r.URL.Path == h.opts.Prefix && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			target := h.opts.Prefix + "/"
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, target, http.StatusMovedPermanently)
			return
		}
		h.fail(w, r, false, errNotFound(fmt.Sprintf("%s is outside the admin's Options.Prefix %q: mount the handler at %q without http.StripPrefix", r.URL.Path, h.opts.Prefix, h.opts.Prefix+"/")))
		return
	}
	api := path == "/api" || strings.HasPrefix(path, "/api/")
	if !h.opts.NoAuth && !h.authorize(w, r, api) {
		return
	}
	if r.Method == http.MethodPost {
		if h.opts.ReadOnly {
			h.fail(w, r, api, errForbidden("the admin is read-only (Options.ReadOnly): actions are turned off"))
			return
		}
		if err := h.checkCSRF(r, api); err != nil {
			h.fail(w, r, api, err)
			return
		}
	}
	h.dispatch(w, r, path, api)
}

// authorize asks Options.Authorize about r and answers a refused request:
// 401 (or Options.Unauthorized), and 429 with Retry-After while r's client
// has failed too often (see loginLimiter). It reports whether r may go on.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, api bool) bool {
	client := h.clientAddr(r)
	creds := r.Header.Get("Authorization") != ""
	if creds {
		if wait := h.logins.wait(client); wait > 0 {
			secs := int64((wait + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			h.fail(w, r, api, &httpError{status: http.StatusTooManyRequests,
				msg: fmt.Sprintf("too many failed logins from %s: try again in %ds", client, secs)})
			return false
		}
	}
	if h.opts.Authorize(r) {
		return true
	}
	if creds {
		h.logins.failed(client)
	}
	if h.opts.Unauthorized != nil {
		h.opts.Unauthorized.ServeHTTP(w, r)
		return false
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="spool admin", charset="UTF-8"`)
	h.fail(w, r, api, &httpError{status: http.StatusUnauthorized, msg: "authentication required"})
	return false
}

// strip returns the request path below the prefix.
func (h *Handler) strip(p string) (string, bool) {
	if h.opts.Prefix == "" {
		return p, strings.HasPrefix(p, "/")
	}
	rest, ok := strings.CutPrefix(p, h.opts.Prefix)
	if !ok || !strings.HasPrefix(rest, "/") {
		return "", false
	}
	return rest, true
}

// url returns the absolute path of an admin page: its prefix plus p.
func (h *Handler) url(p string) string { return h.opts.Prefix + p }
