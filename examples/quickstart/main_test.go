package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeQuickstartIsThisProgram keeps the README honest: its quickstart
// is this file, word for word.
func TestReadmeQuickstartIsThisProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	src, err := os.ReadFile("main.go")
	require.NoError(t, err)
	// The README shows the program from "package main" on.
	body := string(src[bytes.Index(src, []byte("package main")):])
	require.Contains(t, string(readme), "```go\n"+body+"```", "README quickstart differs from examples/quickstart/main.go")
}

// TestQuickstartRuns builds and runs the program in a fresh directory.
func TestQuickstartRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "quickstart")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	cmd := exec.Command(bin)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, io.MultiWriter(&out)
	require.NoError(t, cmd.Run(), out.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	// The handler may print before or after the producer: two goroutines.
	require.ElementsMatch(t, []string{"enqueued job 1", "job 1: receipt for order 10245 sent to ada@example.com"}, lines)
	_, err := os.Stat(filepath.Join(dir, "quickstart.db"))
	require.NoError(t, err, "the queue lives in one file")
}
