package main

// Counting the warnings a multiproc child's store, queue and pool log.

import (
	"context"
	"log/slog"
	"maps"
	"sync"
)

// logCounter is a slog.Handler that counts warning and error records by
// message and passes the first few of each message on to out.
type logCounter struct {
	mu     sync.Mutex
	counts map[string]int
	out    slog.Handler
}

// logShown is how many records of one message a logCounter passes on.
const logShown = 3

// Enabled passes on warnings and errors only.
func (h *logCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

// Handle counts r and passes it on while its message was seen at most
// logShown times.
func (h *logCounter) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	h.counts[r.Message]++
	n := h.counts[r.Message]
	h.mu.Unlock()
	if n > logShown {
		return nil
	}
	if n == logShown {
		r.AddAttrs(slog.String("note", "further records of this message are only counted"))
	}
	return h.out.Handle(ctx, r)
}

// WithAttrs and WithGroup keep counting by message; the attributes and
// groups are dropped from the records passed on.
func (h *logCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logCounter) WithGroup(string) slog.Handler      { return h }

// snapshot returns the counts by message so far.
func (h *logCounter) snapshot() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.counts)
}
