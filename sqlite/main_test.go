package sqlite_test

import (
	"os"
	"testing"

	"github.com/spooljobs/spool/internal/childtest"
)

// pathEnv names the database file a child process works on.
const pathEnv = "SPOOL_SQLITE_TEST_PATH"

// childRoles are the child processes the tests start with childtest.Start:
// each works on the database file named by pathEnv.
var childRoles = map[string]func() error{
	"lockholder": func() error { return holdLock(os.Getenv(pathEnv)) },
	"loader":     func() error { return runLoader(os.Getenv(pathEnv), false) },
	"prober":     func() error { return runLoader(os.Getenv(pathEnv), true) },
	"openclose": func() error {
		return childtest.Check(func(t *childtest.T) { openCloseChild(t, os.Getenv(pathEnv)) })
	},
	"walcrash": func() error {
		return childtest.Check(func(t *childtest.T) { walCrashChild(t, os.Getenv(pathEnv)) })
	},
}

// TestMain runs the tests, or, in a child process, one of childRoles.
func TestMain(m *testing.M) {
	childtest.Main(m, childRoles)
}
