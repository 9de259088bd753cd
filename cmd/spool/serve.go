package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/internal/httpsrv"
)

// The admin command: serve the web admin page for a database file.

var adminCommand = &command{name: "admin", summary: "serve the web admin page and JSON API for the database",
	run: adminRunner(httpsrv.Timeouts{})}

// adminPasswordEnv is the environment variable admin reads the password
// from when -password is not given.
const adminPasswordEnv = "SPOOL_ADMIN_PASSWORD"

const adminAbout = `Usage: spool admin [flags]

Admin serves spool's web admin (dashboard, jobs, dead jobs, queues,
schedules, topics, and the JSON API under /api) for the database until it
is interrupted (Ctrl-C, SIGTERM). It prints the address it listens on to
stderr. It listens on 127.0.0.1:8080 (this machine only) unless -addr says
otherwise, and closes connections of clients that take longer than 10s to
send a request's headers, 30s to send a request, 2m to read a response, or
stay idle for 2m.

Authentication is required: HTTP basic auth with -user and the password of
-password or, better (a flag shows in the process list), the
` + adminPasswordEnv + ` environment variable. Without a password admin
refuses to start, unless -no-auth says that another layer (a proxy, a
private network) authenticates. Basic auth sends the password with every
request: serve it over HTTPS (behind a proxy) beyond localhost. Behind a
proxy that terminates TLS, -trust-proxy makes the admin believe its
X-Forwarded-Proto (for a Secure CSRF cookie) and X-Forwarded-For (to
limit failed logins per client); do not set it when clients can reach the
admin directly.

Flags:
`

// adminRunner returns the admin command's run: it serves the admin for the
// database until ctx is done, with the server timeouts t (zero fields take
// httpsrv's defaults; tests shorten them).
func adminRunner(t httpsrv.Timeouts) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return runAdmin(ctx, args, stderr, t)
	}
}

func runAdmin(ctx context.Context, args []string, stderr io.Writer, timeouts httpsrv.Timeouts) error {
	c := newCmdline("admin", adminAbout, stderr, false)
	f := adminFlags{}
	f.define(c)
	if _, err := c.parse(args); err != nil {
		return err
	}
	opts, err := f.options(stderr)
	if err != nil {
		return err
	}
	var d *db
	if f.readOnly {
		d, err = c.openRead(ctx)
	} else {
		d, err = c.openWrite(ctx)
	}
	if err != nil {
		return err
	}
	defer d.Close()
	h, err := admin.New(d.q, opts)
	if err != nil {
		// Only options make New fail, and -prefix is the only one left
		// unchecked.
		return usageErrorf("-prefix: %v", err)
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	srv := timeouts.Server(withRootRedirect(h, f.prefix))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	f.announce(stderr, ln.Addr(), d.path)
	return serveUntilDone(ctx, srv, served, stderr)
}

// adminFlags are the admin command's own flags.
type adminFlags struct {
	addr, user, password, prefix string
	noAuth, readOnly, trustProxy bool
}

// define adds the flags to c.
func (f *adminFlags) define(c *cmdline) {
	c.fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen on `address` (host:port; port 0 picks a free one; :8080 listens on every interface)")
	c.fs.StringVar(&f.user, "user", "admin", "basic auth user `name`")
	c.fs.StringVar(&f.password, "password", "", "basic auth `password` (default $"+adminPasswordEnv+")")
	c.fs.BoolVar(&f.noAuth, "no-auth", false, "serve without authentication: only when another layer authenticates")
	c.fs.BoolVar(&f.readOnly, "read-only", false, "open the database read-only and turn off every action")
	c.fs.StringVar(&f.prefix, "prefix", "", "serve under this URL `path`, such as /admin (default: the root)")
	c.fs.BoolVar(&f.trustProxy, "trust-proxy", false, "behind a reverse proxy that terminates TLS and sets X-Forwarded-Proto and X-Forwarded-For: trust those headers")
}

// options checks the flags and returns the handler's options; the
// password defaults to $SPOOL_ADMIN_PASSWORD.
func (f *adminFlags) options(stderr io.Writer) (admin.Options, error) {
	opts := admin.Options{ReadOnly: f.readOnly, Prefix: f.prefix, TrustProxy: f.trustProxy,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	switch {
	case f.noAuth && f.password != "":
		return opts, usageErrorf("-no-auth and -password contradict each other: choose one")
	case f.noAuth:
		opts.NoAuth = true
	default:
		if f.password == "" {
			f.password = os.Getenv(adminPasswordEnv)
		}
		if f.password == "" {
			return opts, usageErrorf("the admin needs a password: set -password or %s (or -no-auth when another layer authenticates)", adminPasswordEnv)
		}
		if f.user == "" {
			return opts, usageErrorf("-user is empty")
		}
		opts.Authorize = admin.BasicAuth(f.user, f.password)
	}
	if _, _, err := net.SplitHostPort(f.addr); err != nil {
		return opts, usageErrorf("-addr %q: %v (want host:port, such as :8080 or 127.0.0.1:8080)", f.addr, err)
	}
	return opts, nil
}

// withRootRedirect serves h, and with a prefix redirects "/" to the
// admin's page under it.
func withRootRedirect(h http.Handler, prefix string) http.Handler {
	if prefix == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.Redirect(w, r, prefix+"/", http.StatusFound)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// announce prints where the admin listens, for whom, and the address to
// open; it warns when -no-auth serves beyond the loopback interface.
func (f *adminFlags) announce(stderr io.Writer, addr net.Addr, path string) {
	who := "user " + f.user
	if f.noAuth {
		who = "no authentication"
		if host, _, _ := net.SplitHostPort(f.addr); !isLoopback(host) {
			fmt.Fprintf(stderr, "spool admin: warning: -no-auth on %s: anyone who reaches this address can act on the jobs\n", addr)
		}
	}
	mode := ""
	if f.readOnly {
		mode = ", read-only"
	}
	fmt.Fprintf(stderr, "spool admin: listening on %s for %s (%s%s); open %s\n", addr, path, who, mode, adminURL(addr, f.prefix))
}

// serveUntilDone waits until the server fails (its error on served) or ctx
// is done, then shuts it down within 5s.
func serveUntilDone(ctx context.Context, srv *http.Server, served <-chan error, stderr io.Writer) error {
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(stderr, "spool admin: stopped")
	return nil
}

// isLoopback reports whether host names the loopback interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// adminURL is the address to open in a browser for a listener.
func adminURL(a net.Addr, prefix string) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String() + prefix + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "http://" + host + ":" + port + prefix + "/"
}
