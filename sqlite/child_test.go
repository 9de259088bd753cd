package sqlite_test

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// child is the test binary re-executed as a child process (TestMain picks
// its role from the environment): the parent talks to it in lines, on its
// stdin and stdout, and shows its stderr when something goes wrong.
type child struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
	done   bool
}

// startChild starts the test binary with -test.run=run and env added; the
// child is killed when the test ends, if it still runs.
func startChild(t *testing.T, run string, env ...string) *child {
	t.Helper()
	c := &child{t: t, cmd: exec.Command(os.Args[0], "-test.run="+run, "-test.count=1")}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = &c.stderr
	var err error
	c.stdin, err = c.cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := c.cmd.StdoutPipe()
	require.NoError(t, err)
	c.out = bufio.NewReader(stdout)
	require.NoError(t, c.cmd.Start())
	t.Cleanup(func() {
		if !c.done {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	})
	return c
}

// line reads the child's next line, without its newline; the child's end
// fails the test with its stderr.
func (c *child) line() string {
	c.t.Helper()
	line, err := c.out.ReadString('\n')
	if err != nil {
		c.kill()
		c.t.Fatalf("child ended (%v); its stderr:\n%s", err, c.stderr.String())
	}
	return line[:len(line)-1]
}

// expect reads the child's next line and fails the test unless it is want.
func (c *child) expect(want string) {
	c.t.Helper()
	if got := c.line(); got != want {
		c.kill()
		c.t.Fatalf("child said %q, want %q; its stderr:\n%s", got, want, c.stderr.String())
	}
}

// say writes a line to the child's stdin.
func (c *child) say(line string) {
	c.t.Helper()
	_, err := io.WriteString(c.stdin, line+"\n")
	require.NoError(c.t, err)
}

// wait closes the child's stdin and waits for it to exit successfully.
func (c *child) wait() {
	c.t.Helper()
	c.stdin.Close()
	err := c.cmd.Wait()
	c.done = true
	require.NoError(c.t, err, "child's stderr:\n%s", c.stderr.String())
}

// kill ends the child at once; its stderr is complete afterwards.
func (c *child) kill() {
	if !c.done {
		c.cmd.Process.Kill()
		c.cmd.Wait()
		c.done = true
	}
}
