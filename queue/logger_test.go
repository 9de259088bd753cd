package queue_test

import (
	"bytes"
	"log"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// lockedBuffer is a bytes.Buffer safe for the standard logger's writes
// from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// With no logger given, failures are not silent: warnings and errors reach
// the standard logger's output, Info and Debug stay quiet. Not parallel:
// it redirects the standard logger.
func TestDefaultLoggerWarnsOnTheStandardLogger(t *testing.T) {
	var buf lockedBuffer
	old, flags := log.Writer(), log.Flags()
	log.SetOutput(&buf)
	t.Cleanup(func() { log.SetOutput(old); log.SetFlags(flags) }) // slog.SetDefault below changes both

	q := newQueue(t, nil) // queue.Options.Logger and sqlite.Options.Logger nil
	l := q.Logger()
	l.Debug("spool: debug detail")
	l.Info("spool: leading maintenance")
	l.Warn("spool: clock jumped", "by", "2s")
	l.With("queue", "mail").WithGroup("lease").Error("spool: lease failed", "err", "disk full")
	out := buf.String()
	require.Contains(t, out, "WARN spool: clock jumped by=2s")
	require.Contains(t, out, "ERROR spool: lease failed queue=mail lease.err=\"disk full\"")
	require.NotContains(t, out, "debug detail")
	require.NotContains(t, out, "leading maintenance")
	require.False(t, l.Enabled(t.Context(), slog.LevelInfo))

	// A default set later gets the records.
	var later lockedBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&later, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	queue.DefaultLogger().Info("spool: still quiet")
	queue.DefaultLogger().Error("spool: moved")
	require.Contains(t, later.String(), "msg=\"spool: moved\"")
	require.NotContains(t, later.String(), "still quiet")
}
