package spooltest_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spooljobs/spool/spooltest"
)

// start is where the tests' clocks start.
var start = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

func newKit(t *testing.T) *spooltest.Kit {
	t.Helper()
	return spooltest.New(t, spooltest.Options{Start: start})
}

// fakeTB is a testing.TB that records failures instead of failing the
// test, so that the kit's assertions can be shown to fail. Fatalf and
// FailNow end the goroutine, as testing's do; run them through failures.
type fakeTB struct {
	testing.TB // the real test, for Cleanup, TempDir, Logf
	mu         sync.Mutex
	msgs       []string
	failed     bool
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
	f.failed = true
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) FailNow() {
	f.mu.Lock()
	f.failed = true
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// failure runs fn with a fake TB in its own goroutine and returns what
// it failed with ("" if it passed).
func failure(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.failed {
		return ""
	}
	return strings.Join(f.msgs, "\n")
}
