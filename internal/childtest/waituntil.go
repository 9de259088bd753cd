package childtest

import (
	"fmt"
	"testing"
	"time"
)

// WaitUntil polls cond every few milliseconds until it holds. It fails the
// test after timeout (killing the children and showing their stderr), or
// as soon as one of the children exits. It is how a test watches other
// processes' progress (a log file, the database), which cannot signal it.
func WaitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool, children ...*Child) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		for _, c := range children {
			select {
			case <-c.exited:
				c.exitedEarly(what)
			default:
			}
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("timed out after %s waiting for %s", timeout, what)
			for _, c := range children {
				c.kill()
				msg += fmt.Sprintf("\nchild %s (pid %d) stderr:\n%s", c.role, c.Pid(), c.stderrTail())
			}
			t.Fatal(msg)
		}
		<-tick.C
	}
}
