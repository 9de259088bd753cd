package childtest

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
)

// T lets a child role make testify assertions (it is a require.TestingT):
// a failed assertion records its message, and a failed require ends the
// check as it would end a test.
type T struct {
	mu       sync.Mutex
	failures []string
	failed   bool
}

// Errorf records a failure; the check goes on.
func (t *T) Errorf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failures = append(t.failures, fmt.Sprintf(format, args...))
}

// FailNow ends the check at once. It must be called from the goroutine
// Check runs f in.
func (t *T) FailNow() {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	runtime.Goexit()
}

// Fatalf records a failure and ends the check.
func (t *T) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	t.FailNow()
}

// Helper does nothing; it is there for testify, which calls it.
func (t *T) Helper() {}

// Check runs f, a child role's assertions, and returns an error holding
// every failure f recorded, or nil.
func Check(f func(t *T)) error {
	t := &T{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(t)
	}()
	<-done
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.failures) == 0 {
		if t.failed {
			return errors.New("failed")
		}
		return nil
	}
	return errors.New(strings.Join(t.failures, "\n"))
}
