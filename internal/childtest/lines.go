package childtest

import (
	"bufio"
	"errors"
	"io"
	"sync"
	"time"
)

// errNoLine is lineQueue.next's error when no line came in time.
var errNoLine = errors.New("no line in time")

// lineQueue holds the lines a child printed that the test did not read
// yet. It never makes the child wait: a line nobody reads stays queued.
type lineQueue struct {
	mu    sync.Mutex
	lines []string
	done  bool          // the child's stdout ended
	more  chan struct{} // a line came, or the end: has room for one signal
}

// readLines queues the lines read from r until it ends, then closes it.
func readLines(r io.ReadCloser) *lineQueue {
	q := &lineQueue{more: make(chan struct{}, 1)}
	go func() {
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			q.push(sc.Text(), false)
		}
		q.push("", true)
	}()
	return q
}

// push queues line, or marks the end.
func (q *lineQueue) push(line string, end bool) {
	q.mu.Lock()
	if end {
		q.done = true
	} else {
		q.lines = append(q.lines, line)
	}
	q.mu.Unlock()
	select {
	case q.more <- struct{}{}:
	default:
	}
}

// next returns the oldest queued line, waiting up to timeout for one. Its
// error is io.EOF when the child's stdout ended with no line left, and
// errNoLine on timeout.
func (q *lineQueue) next(timeout time.Duration) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		q.mu.Lock()
		if len(q.lines) > 0 {
			line := q.lines[0]
			q.lines = q.lines[1:]
			q.mu.Unlock()
			return line, nil
		}
		done := q.done
		q.mu.Unlock()
		if done {
			return "", io.EOF
		}
		select {
		case <-q.more:
		case <-deadline.C:
			return "", errNoLine
		}
	}
}
