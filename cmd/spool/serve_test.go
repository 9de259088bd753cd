package main

// The admin command, run as a server.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/httpsrv"
)

// adminServer is a running "spool admin".
type adminServer struct {
	cmd    *exec.Cmd
	addr   string
	stderr *bytes.Buffer
	mu     *sync.Mutex
	done   chan error
}

var listenRE = regexp.MustCompile(`listening on (\S+) `)

// startAdmin starts spool admin and waits for the address it listens on.
func startAdmin(t *testing.T, env []string, args ...string) *adminServer {
	t.Helper()
	cmd := exec.Command(spoolBinary(t), append([]string{"admin", "-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = cleanEnv(env...)
	pipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &adminServer{cmd: cmd, stderr: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			s.mu.Lock()
			s.stderr.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		s.done <- cmd.Wait()
	}()
	select {
	case s.addr = <-addr:
	case <-time.After(20 * time.Second):
		t.Fatalf("spool admin did not print its address; stderr: %s", s.log())
	}
	return s
}

func (s *adminServer) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// stop interrupts the server and requires a clean exit.
func (s *adminServer) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(os.Interrupt))
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		require.NoError(t, err, "spool admin exit; stderr: %s", s.log())
	case <-time.After(20 * time.Second):
		t.Fatalf("spool admin did not stop on SIGINT; stderr: %s", s.log())
	}
	require.Contains(t, s.log(), "spool admin: stopped")
}

func get(t *testing.T, url, user, password string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// admin refuses to start without a password, serves the pages and API to
// the right user only, and with -read-only and -prefix refuses actions.
func TestCLIAdmin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	// No password, no server.
	fails(t, 2, "the admin needs a password: set -password or SPOOL_ADMIN_PASSWORD", "admin", "-db", f.path, "-addr", "127.0.0.1:0")

	s := startAdmin(t, []string{adminPasswordEnv + "=s3cret"}, "-db", f.path)
	base := "http://" + s.addr
	require.Contains(t, s.log(), "user admin")
	require.Equal(t, http.StatusUnauthorized, get(t, base+"/", "", "").StatusCode)
	require.Equal(t, http.StatusUnauthorized, get(t, base+"/", "admin", "wrong").StatusCode)
	resp := get(t, base+"/", "admin", "s3cret")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), "payments")
	resp = get(t, base+"/api/jobs?queue=payments", "admin", "s3cret")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var api struct {
		Jobs []struct {
			ID int64 `json:"id"`
		} `json:"jobs"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&api))
	require.Len(t, api.Jobs, 1)
	require.Equal(t, f.dead, api.Jobs[0].ID)
	s.stop(t)

	// -read-only, -user, -password and -prefix: actions are refused.
	s = startAdmin(t, nil, "-db", f.path, "-read-only", "-user", "ops", "-password", "pw", "-prefix", "/admin")
	base = "http://" + s.addr
	require.Contains(t, s.log(), "read-only")
	require.Equal(t, http.StatusUnauthorized, get(t, base+"/admin/", "admin", "pw").StatusCode)
	require.Equal(t, http.StatusOK, get(t, base+"/admin/", "ops", "pw").StatusCode)
	req, err := http.NewRequest(http.MethodPost, base+"/admin/api/queues/resume", strings.NewReader(`{"queue":"mail"}`))
	require.NoError(t, err)
	req.SetBasicAuth("ops", "pw")
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	s.stop(t)
}

// admin listens on the loopback interface unless -addr says otherwise.
func TestCLIAdminListensOnLocalhost(t *testing.T) {
	t.Parallel()
	f := adminFlags{}
	f.define(newCmdline("admin", adminAbout, io.Discard, false))
	require.Equal(t, "127.0.0.1:8080", f.addr)
}

// serveAdmin runs the admin command in the test's process with the server
// timeouts t and args (after -addr 127.0.0.1:0), and returns the address
// it listens on and a func that stops it and requires a clean exit.
func serveAdmin(t *testing.T, timeouts httpsrv.Timeouts, args ...string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- adminRunner(timeouts)(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard, pw)
		pw.Close()
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return a, func() {
			cancel()
			require.NoError(t, <-done)
		}
	case err := <-done:
		cancel()
		t.Fatalf("spool admin exited: %v", err)
		return "", nil
	}
}

// admin closes the connection of a client that sends its headers byte by
// byte (slowloris), here with a read-header timeout of 200ms, and of one
// that drips a POST's body, with a read timeout of 300ms.
func TestCLIAdminCutsOffSlowClients(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, stop := serveAdmin(t, httpsrv.Timeouts{ReadHeader: 200 * time.Millisecond, Read: 300 * time.Millisecond}, "-db", f.path, "-no-auth")
	defer stop()
	require.NoError(t, httpsrv.SlowHeaders(a, 5*time.Second))
	require.NoError(t, httpsrv.SlowBody(a, "/dead/retry", 5*time.Second))
	// A client that sends its request at once is served.
	resp, err := http.Get("http://" + a + "/api/stats")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// With -trust-proxy, admin believes a proxy's X-Forwarded-Proto: the CSRF
// cookie of a request that reached the proxy over HTTPS is Secure.
func TestCLIAdminTrustProxy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, trust := range []bool{false, true} {
		args := []string{"-db", f.path, "-no-auth"}
		if trust {
			args = append(args, "-trust-proxy")
		}
		a, stop := serveAdmin(t, httpsrv.Timeouts{}, args...)
		req, err := http.NewRequest(http.MethodGet, "http://"+a+"/api/csrf", nil)
		require.NoError(t, err)
		req.Header.Set("X-Forwarded-Proto", "https")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Len(t, resp.Cookies(), 1)
		require.Equal(t, trust, resp.Cookies()[0].Secure, "-trust-proxy %v", trust)
		stop()
	}
}
