package worker_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// childEnv turns the test binary into a child process: when it is set,
// TestMain runs the named child role (see runChild) and exits instead of
// running tests. Tests start children with startChild, which re-executes
// os.Args[0] with this variable set.
const childEnv = "SPOOL_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role))
	}
	os.Exit(m.Run())
}

// runChild runs one child role and returns the process's exit code. A
// child reports failures on stderr, which the parent shows when it fails.
func runChild(role string) int {
	var err error
	switch role {
	case "crash":
		err = crashChild()
	case "twoproc":
		err = twoProcChild()
	case "open":
		err = openChild()
	case "ordercrash":
		err = orderCrashChild()
	case "oncecrash":
		err = onceCrashChild()
	case "topicscrash":
		err = topicsCrashChild()
	default:
		err = fmt.Errorf("unknown child role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %s (pid %d): %v\n", role, os.Getpid(), err)
		return 1
	}
	return 0
}

// childProc is a running child process: the test binary re-executed in a
// child role. Its stdin is a pipe the parent holds (closing it tells the
// child to finish; it also ends the child if the parent dies), its stdout
// lines arrive on lines, and its stderr is kept for failure messages.
type childProc struct {
	role   string
	cmd    *exec.Cmd
	stdin  *os.File
	lines  chan string
	stderr bytes.Buffer // read only after exited is closed
	exited chan struct{}
	err    error // cmd.Wait's result; valid after exited is closed
}

// startChild starts the test binary in the given child role with extra
// environment variables ("KEY=value"). The child is killed at the end of
// the test if it is still running.
func startChild(t *testing.T, role string, env ...string) *childProc {
	t.Helper()
	c := &childProc{role: role, lines: make(chan string, 64), exited: make(chan struct{})}
	inR, inW, err := os.Pipe()
	require.NoError(t, err)
	outR, outW, err := os.Pipe()
	require.NoError(t, err)
	// -test.run=^$: should the child ever get past TestMain's dispatch, it
	// runs no tests.
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(append(os.Environ(), childEnv+"="+role), env...)
	c.cmd.Stdin, c.cmd.Stdout, c.cmd.Stderr = inR, outW, &c.stderr
	err = c.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		require.NoError(t, err, "start child %s", role)
	}
	c.stdin = inW
	go func() {
		defer close(c.lines)
		defer outR.Close()
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			select {
			case c.lines <- sc.Text():
			default: // nobody listens for chatter
			}
		}
	}()
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.kill()
		c.stdin.Close()
	})
	return c
}

// kill sends SIGKILL and waits until the child is gone.
func (c *childProc) kill() {
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Kill()
	<-c.exited
}

// stderrTail returns the end of the child's stderr. Call it only after the
// child exited.
func (c *childProc) stderrTail() string {
	s := c.stderr.String()
	if len(s) > 8000 {
		s = "…" + s[len(s)-8000:]
	}
	return s
}

// exitedEarly fails the test because the child exited while the parent
// still needed it.
func (c *childProc) exitedEarly(t *testing.T, what string) {
	t.Helper()
	t.Fatalf("child %s (pid %d) exited (%v) while the test waited for %s; its stderr:\n%s",
		c.role, c.cmd.Process.Pid, c.err, what, c.stderrTail())
}

// waitLine waits until the child prints want on a line of its stdout.
func (c *childProc) waitLine(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				<-c.exited
				c.exitedEarly(t, fmt.Sprintf("the line %q", want))
			}
			if line == want {
				return
			}
		case <-deadline:
			c.kill()
			t.Fatalf("child %s (pid %d) did not print %q within %s; its stderr:\n%s",
				c.role, c.cmd.Process.Pid, want, timeout, c.stderrTail())
		}
	}
}

// waitExit waits for the child to exit and requires exit code 0.
func (c *childProc) waitExit(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-c.exited:
	case <-time.After(timeout):
		c.kill()
		t.Fatalf("child %s (pid %d) did not exit within %s; killed it; its stderr:\n%s",
			c.role, c.cmd.Process.Pid, timeout, c.stderrTail())
	}
	require.NoError(t, c.err, "child %s (pid %d) failed; its stderr:\n%s", c.role, c.cmd.Process.Pid, c.stderrTail())
	c.requireNoRace(t)
}

// requireNoRace fails if the race detector reported a race in the child
// (a killed child never gets to exit with the race detector's exit code).
func (c *childProc) requireNoRace(t *testing.T) {
	t.Helper()
	<-c.exited
	if strings.Contains(c.stderr.String(), "WARNING: DATA RACE") {
		t.Fatalf("the race detector reported a race in child %s (pid %d):\n%s", c.role, c.cmd.Process.Pid, c.stderr.String())
	}
}

// waitUntil polls cond every few milliseconds until it holds, failing the
// test after timeout or as soon as one of the children exits. It observes
// other processes, which cannot signal this one.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool, children ...*childProc) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		for _, c := range children {
			select {
			case <-c.exited:
				c.exitedEarly(t, what)
			default:
			}
		}
		if time.Now().After(deadline) {
			for _, c := range children {
				c.kill()
			}
			msg := fmt.Sprintf("timed out after %s waiting for %s", timeout, what)
			for _, c := range children {
				msg += fmt.Sprintf("\nchild %s (pid %d) stderr:\n%s", c.role, c.cmd.Process.Pid, c.stderrTail())
			}
			t.Fatal(msg)
		}
		<-tick.C
	}
}

// countLines returns how many complete lines the file at path holds (0 if
// it does not exist yet).
func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	return bytes.Count(b, []byte{'\n'})
}

// testSeed returns the seed of a randomized test: the value of env when
// set (to replay a run), else a fresh one; it logs which, with what it
// drives.
func testSeed(t *testing.T, env, drives string) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(env); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, env)
	}
	t.Logf("seed %d (replay %s with %s=%d)", seed, drives, env, seed)
	return seed
}
