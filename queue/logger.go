package queue

import (
	"context"
	"log/slog"
)

// The logger used where a program gives none, so that failures are not
// silent by default.

// DefaultLogger returns the logger spool uses where none is given
// (Options.Logger nil here and in the stores; worker pools and schedulers
// take the queue's): warnings and errors go to slog.Default(), which
// writes through the standard log package (to stderr) unless the program
// set another default, and Info and Debug records are dropped. The
// default is looked up at each record, so a later slog.SetDefault takes
// effect.
//
// To silence spool, give a discard logger in the options:
//
//	quiet := slog.New(slog.DiscardHandler)
//	store, err := sqlite.Open(ctx, "shop.db", sqlite.Options{Logger: quiet})
//	q, err := queue.New(store, queue.Options{Logger: quiet})
func DefaultLogger() *slog.Logger {
	return slog.New(warnHandler{})
}

// warnHandler passes records of level Warn and above to slog.Default()'s
// handler, with the attributes and groups added to it by With and
// WithGroup. It does not keep that handler: a program that sets a new
// default later gets the records there.
type warnHandler struct {
	// with replays the With and WithGroup calls, in order, on the
	// default handler.
	with []func(slog.Handler) slog.Handler
}

func (h warnHandler) handler() slog.Handler {
	d := slog.Default().Handler()
	for _, f := range h.with {
		d = f(d)
	}
	return d
}

func (h warnHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && slog.Default().Handler().Enabled(ctx, l)
}

func (h warnHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return nil
	}
	return h.handler().Handle(ctx, r)
}

func (h warnHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.add(func(d slog.Handler) slog.Handler { return d.WithAttrs(attrs) })
}

func (h warnHandler) WithGroup(name string) slog.Handler {
	return h.add(func(d slog.Handler) slog.Handler { return d.WithGroup(name) })
}

// add returns h with f appended, sharing no backing array with h.
func (h warnHandler) add(f func(slog.Handler) slog.Handler) warnHandler {
	with := make([]func(slog.Handler) slog.Handler, len(h.with), len(h.with)+1)
	copy(with, h.with)
	return warnHandler{with: append(with, f)}
}
