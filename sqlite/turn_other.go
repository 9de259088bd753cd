//go:build !linux

package sqlite

import (
	"log/slog"
	"os"
	"time"
)

// fileTurn is the writers' turn; outside Linux there is none yet (no open
// file description locks), and SQLite's busy handler alone decides who
// writes next.
type fileTurn struct{}

func openTurn(string, os.FileMode, *slog.Logger) (*fileTurn, error) { return nil, nil }

func (t *fileTurn) acquire(time.Time, <-chan struct{}) (bool, error) { return false, nil }

func (t *fileTurn) release() {}

func (t *fileTurn) close() error { return nil }
