package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/spooljobs/spool/queuetest"
	"github.com/spooljobs/spool/sqlite"
)

// TestConformance runs the shared Store contract suite on real SQLite files.
func TestConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queuetest.Backend {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "spool.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return queuetest.Backend{Store: s, DB: s.DB()}
	})
}
