//go:build !linux

package sqlite

import (
	"os"
	"time"
)

// fileTurn is the writers' turn; outside Linux there is none yet (no open
// file description locks), and SQLite's busy handler alone decides who
// writes next.
type fileTurn struct{}

func openTurn(string, os.FileMode) (*fileTurn, error) { return nil, nil }

func (t *fileTurn) acquire(time.Time, <-chan struct{}) error { return nil }

func (t *fileTurn) release() {}

func (t *fileTurn) close() error { return nil }
