package childtest

import (
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spooljobs/spool/internal/syncbuf"
)

// Child is a running child process: the test binary re-executed in a child
// role. Its stdin is a pipe the parent holds, its stdout lines queue up
// until the test reads them, and its stderr is kept for failure messages.
type Child struct {
	t      testing.TB
	role   string
	proc   *os.Process
	stdin  *os.File
	closed sync.Once // closes stdin
	out    *lineQueue
	stderr syncbuf.Buffer // the child's stderr, read while it is copied in
	exited chan struct{}
	err    error // the process's exit status; valid once exited is closed
}

// Start starts the test binary in the given child role with extra
// environment variables ("KEY=value"). The child is killed at the end of
// the test if it still runs.
func Start(t testing.TB, role string, env ...string) *Child {
	t.Helper()
	c := &Child{t: t, role: role, exited: make(chan struct{})}
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatalf("start child %s: %v", role, err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		t.Fatalf("start child %s: %v", role, err)
	}
	cmd := Command(role, env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, &c.stderr
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		t.Fatalf("start child %s: %v", role, err)
	}
	c.proc, c.stdin = cmd.Process, inW
	c.out = readLines(outR)
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.kill()
		c.CloseStdin()
	})
	return c
}

// Pid returns the child's process id.
func (c *Child) Pid() int { return c.proc.Pid }

// Say writes a line to the child's stdin, where the child reads it with
// ReadLine.
func (c *Child) Say(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		c.kill()
		c.t.Fatalf("child %s (pid %d): say %q: %v; its stderr:\n%s", c.role, c.proc.Pid, line, err, c.Stderr())
	}
}

// Line returns the child's next line on stdout, without its newline. It
// fails the test, showing the child's stderr, if the child exits first or
// prints no line within timeout (then it kills the child).
func (c *Child) Line(timeout time.Duration) string {
	c.t.Helper()
	line, err := c.out.next(timeout)
	switch err {
	case nil:
		return line
	case io.EOF:
		<-c.exited
		c.exitedEarly("a line")
	default:
		c.kill()
		c.t.Fatalf("child %s (pid %d) printed no line within %s; its stderr:\n%s", c.role, c.proc.Pid, timeout, c.stderrTail())
	}
	return ""
}

// Expect reads the child's next line, as Line does, and fails the test
// unless it is want.
func (c *Child) Expect(want string, timeout time.Duration) {
	c.t.Helper()
	if got := c.Line(timeout); got != want {
		c.kill()
		c.t.Fatalf("child %s (pid %d) said %q, want %q; its stderr:\n%s", c.role, c.proc.Pid, got, want, c.stderrTail())
	}
}

// CloseStdin closes the child's stdin, which tells it to finish. Closing it
// again does nothing.
func (c *Child) CloseStdin() {
	c.closed.Do(func() { c.stdin.Close() })
}

// Wait closes the child's stdin and waits for the child to exit; it fails
// the test unless the child exits with status 0 within timeout (else it
// kills the child) and without a data race reported.
func (c *Child) Wait(timeout time.Duration) {
	c.t.Helper()
	c.CloseStdin()
	select {
	case <-c.exited:
	case <-time.After(timeout):
		c.kill()
		c.t.Fatalf("child %s (pid %d) did not exit within %s; killed it; its stderr:\n%s", c.role, c.proc.Pid, timeout, c.stderrTail())
	}
	if c.err != nil {
		c.t.Fatalf("child %s (pid %d) failed (%v); its stderr:\n%s", c.role, c.proc.Pid, c.err, c.stderrTail())
	}
	c.requireNoRace()
}

// Kill sends the child SIGKILL and waits until it is gone. It fails the
// test if the race detector reported a data race in the child (a killed
// child never gets to exit with the race detector's status).
func (c *Child) Kill() {
	c.t.Helper()
	c.kill()
	c.requireNoRace()
}

// Stderr returns what the child wrote to its stderr so far.
func (c *Child) Stderr() string { return c.stderr.String() }

// kill sends SIGKILL unless the child exited, and waits until it is gone.
func (c *Child) kill() {
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.proc.Kill()
	<-c.exited
}

// requireNoRace fails the test if the race detector reported a data race
// in the child, which exited.
func (c *Child) requireNoRace() {
	c.t.Helper()
	if s := c.Stderr(); strings.Contains(s, "WARNING: DATA RACE") {
		c.t.Fatalf("the race detector reported a race in child %s (pid %d):\n%s", c.role, c.proc.Pid, s)
	}
}

// exitedEarly fails the test because the child exited while the test still
// waited for what.
func (c *Child) exitedEarly(what string) {
	c.t.Helper()
	c.t.Fatalf("child %s (pid %d) exited (%v) while the test waited for %s; its stderr:\n%s",
		c.role, c.proc.Pid, c.err, what, c.stderrTail())
}

// stderrTail returns the end of the child's stderr, for failure messages.
func (c *Child) stderrTail() string {
	s := c.Stderr()
	if len(s) > 8000 {
		s = "…" + s[len(s)-8000:]
	}
	return s
}
