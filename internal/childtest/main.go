package childtest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// roleEnv names the child role the test binary runs: when it is set, Main
// runs that role instead of the tests.
const roleEnv = "SPOOL_TEST_CHILD"

// Main is the body of a package's TestMain. When the test binary was
// started as a child (by Start or Command), it runs the role named in the
// environment and exits: with status 0 when the role returns nil, else
// with status 1 after writing the error to stderr. Otherwise it runs the
// tests and exits with their status.
func Main(m *testing.M, roles map[string]func() error) {
	role := os.Getenv(roleEnv)
	if role == "" {
		os.Exit(m.Run())
	}
	run, ok := roles[role]
	if !ok {
		run = func() error { return fmt.Errorf("unknown child role %q", role) }
	}
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "child %s (pid %d): %v\n", role, os.Getpid(), err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Command returns the command, not started, that runs the test binary in
// the given child role with extra environment variables ("KEY=value").
// Start runs it; a test calls Command itself only when it needs what Start
// does not set up, such as process attributes of its own.
func Command(role string, env ...string) *exec.Cmd {
	// -test.run=^$: should the child ever get past Main's dispatch, it
	// runs no tests.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), roleEnv+"="+role), env...)
	return cmd
}
