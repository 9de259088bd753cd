package main

import (
	"net"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeForNewcomers keeps the README's first steps honest: exactly
// the two set-up commands, how to add spool to an app and install the
// command, and 'spool admin' commands that do not take the running demo's
// port.
func TestReadmeForNewcomers(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	readme := string(b)

	setup := regexp.MustCompile("(?s)## Set up\n\n```sh\n(.*?)```").FindStringSubmatch(readme)
	require.NotNil(t, setup, "a Set up section with one sh block")
	lines := strings.Split(strings.TrimSpace(setup[1]), "\n")
	require.Len(t, lines, 2, "exactly two set-up commands:\n%s", setup[1])
	require.True(t, strings.HasPrefix(lines[0], "go run ./examples/shop "), lines[0])
	require.True(t, strings.HasPrefix(lines[1], "go test ./... "), lines[1])

	app := regexp.MustCompile("(?s)## Use it in your app\n(.*?)\n## ").FindStringSubmatch(readme)
	require.NotNil(t, app, "a 'Use it in your app' section")
	require.Contains(t, app[1], "go get github.com/spooljobs/spool ")
	require.Contains(t, app[1], "go install github.com/spooljobs/spool/cmd/spool@latest")

	require.Contains(t, readme, "Chromium")
	require.Contains(t, readme, "--- SKIP: TestBrowser")
	require.Contains(t, readme, "slog.DiscardHandler", "how to silence the default logger")

	_, demoPort, err := net.SplitHostPort(defaultAddr)
	require.NoError(t, err)
	admins := regexp.MustCompile("spool admin [^`\n]*").FindAllString(readme, -1)
	require.NotEmpty(t, admins)
	for _, cmd := range admins {
		m := regexp.MustCompile(`-addr (\S+)`).FindStringSubmatch(cmd)
		require.NotNil(t, m, "%q: give -addr, so that it does not take the demo's port", cmd)
		_, port, err := net.SplitHostPort(m[1])
		require.NoError(t, err, cmd)
		require.NotEqual(t, demoPort, port, "%q collides with the demo on %s", cmd, defaultAddr)
	}
}
