//go:build unix

package childtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// RunTestsAsNobody runs the tests matching pattern in a copy of the test
// binary as the user nobody (uid and gid 65534), and fails unless they ran
// and passed. It is how a test that needs an unprivileged process runs
// itself again when the tests run as root (as in CI).
func RunTestsAsNobody(t testing.TB, pattern string) {
	t.Helper()
	// The copy must be readable by nobody: the test binary's own
	// directory may not be.
	dir, err := os.MkdirTemp("", "spool-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	exe := filepath.Join(dir, filepath.Base(os.Args[0]))
	bin, err := os.ReadFile(os.Args[0])
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(exe, bin, 0o755)
	}
	if err != nil {
		t.Fatalf("copy the test binary for nobody: %v", err)
	}

	cmd := exec.Command(exe, "-test.run="+pattern, "-test.v", "-test.count=1")
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+os.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+strings.Trim(pattern, "^$")) {
		t.Fatalf("as nobody, %s did not run and pass:\n%s", pattern, out)
	}
	t.Logf("ran as nobody:\n%s", out)
}
