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
)

// The admin command: serve the web admin page for a database file.

var adminCommand = &command{name: "admin", summary: "serve the web admin page and JSON API for the database",
	run: runAdmin}

// adminPasswordEnv is the environment variable admin reads the password
// from when -password is not given.
const adminPasswordEnv = "SPOOL_ADMIN_PASSWORD"

const adminAbout = `Usage: spool admin [flags]

Admin serves spool's web admin (dashboard, jobs, dead jobs, queues,
schedules, topics, and the JSON API under /api) for the database until it
is interrupted (Ctrl-C, SIGTERM). It prints the address it listens on to
stderr.

Authentication is required: HTTP basic auth with -user and the password of
-password or, better (a flag shows in the process list), the
` + adminPasswordEnv + ` environment variable. Without a password admin
refuses to start, unless -no-auth says that another layer (a proxy, a
private network) authenticates. Basic auth sends the password with every
request: serve it over HTTPS (behind a proxy) beyond localhost.

Flags:
`

func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("admin", adminAbout, stderr, false)
	var (
		addr, user, password, prefix string
		noAuth, readOnly             bool
	)
	c.fs.StringVar(&addr, "addr", ":8080", "listen on `address` (host:port; port 0 picks a free one)")
	c.fs.StringVar(&user, "user", "admin", "basic auth user `name`")
	c.fs.StringVar(&password, "password", "", "basic auth `password` (default $"+adminPasswordEnv+")")
	c.fs.BoolVar(&noAuth, "no-auth", false, "serve without authentication: only when another layer authenticates")
	c.fs.BoolVar(&readOnly, "read-only", false, "open the database read-only and turn off every action")
	c.fs.StringVar(&prefix, "prefix", "", "serve under this URL `path`, such as /admin (default: the root)")
	if _, err := c.parse(args); err != nil {
		return err
	}
	opts := admin.Options{ReadOnly: readOnly, Prefix: prefix,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	switch {
	case noAuth && password != "":
		return usageErrorf("-no-auth and -password contradict each other: choose one")
	case noAuth:
		opts.NoAuth = true
	default:
		if password == "" {
			password = os.Getenv(adminPasswordEnv)
		}
		if password == "" {
			return usageErrorf("the admin needs a password: set -password or %s (or -no-auth when another layer authenticates)", adminPasswordEnv)
		}
		if user == "" {
			return usageErrorf("-user is empty")
		}
		opts.Authorize = admin.BasicAuth(user, password)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return usageErrorf("-addr %q: %v (want host:port, such as :8080 or 127.0.0.1:8080)", addr, err)
	}
	var (
		d   *db
		err error
	)
	if readOnly {
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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var handler http.Handler = h
	if prefix != "" {
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/" {
				http.Redirect(w, r, prefix+"/", http.StatusFound)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	who := "user " + user
	if noAuth {
		who = "no authentication"
		if host, _, _ := net.SplitHostPort(addr); !isLoopback(host) {
			fmt.Fprintf(stderr, "spool admin: warning: -no-auth on %s: anyone who reaches this address can act on the jobs\n", ln.Addr())
		}
	}
	mode := ""
	if readOnly {
		mode = ", read-only"
	}
	fmt.Fprintf(stderr, "spool admin: listening on %s for %s (%s%s); open %s\n", ln.Addr(), d.path, who, mode, adminURL(ln.Addr(), prefix))

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
