package admin

import (
	"sync"
	"time"
)

// corruptShown is how long every page shows the corruption banner after
// the last read or write that found the database file corrupt. Damage that
// only some pages reach keeps the banner on the pages that reach it; damage
// repaired in place (REINDEX of a damaged index) lets it go.
const corruptShown = 15 * time.Minute

// corruptWatch remembers the last corruption error the handler saw, for
// the banner every page's layout shows.
type corruptWatch struct {
	mu   sync.Mutex
	seen time.Time // the queue clock's reading when it was last seen
	err  string
}

// corruptBanner is what the layout's banner shows.
type corruptBanner struct {
	At   string // when the error was last seen, in UTC
	File string // the database file, or "the database file"
	Err  string // the store's error
}

// noteCorrupt records err, an error wrapping queue.ErrCorrupt.
func (h *Handler) noteCorrupt(err error) {
	h.corrupt.mu.Lock()
	defer h.corrupt.mu.Unlock()
	h.corrupt.seen, h.corrupt.err = h.q.Now(), err.Error()
}

// banner returns the corruption banner to show, or nil.
func (h *Handler) banner() *corruptBanner {
	h.corrupt.mu.Lock()
	defer h.corrupt.mu.Unlock()
	if h.corrupt.err == "" || h.q.Now().Sub(h.corrupt.seen) > corruptShown {
		return nil
	}
	return &corruptBanner{At: formatTime(h.corrupt.seen), File: h.dbFile(), Err: h.corrupt.err}
}

// dbFile names the database file, when the store knows it (package
// sqlite's does).
func (h *Handler) dbFile() string {
	if s, ok := h.q.Store().(interface{ Path() string }); ok && s.Path() != "" {
		return s.Path()
	}
	return "the database file"
}
