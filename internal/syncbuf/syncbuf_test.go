package syncbuf_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/spooljobs/spool/internal/syncbuf"
)

// Concurrent writers each land whole, and String sees them all.
func TestBufferConcurrentWrites(t *testing.T) {
	var b syncbuf.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 100 {
				fmt.Fprintf(&b, "w%d-%d\n", i, k)
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 800 {
		t.Fatalf("got %d lines, want 800", len(lines))
	}
	seen := map[string]bool{}
	for _, l := range lines {
		seen[l] = true
	}
	if len(seen) != 800 {
		t.Fatalf("got %d distinct lines, want 800", len(seen))
	}
}
