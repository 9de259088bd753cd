package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/queuetest"
	"github.com/spooljobs/spool/sqlite"
)

// TestConformance runs the shared Store contract suite on real SQLite files.
func TestConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) queuetest.Backend {
		path := filepath.Join(t.TempDir(), "spool.db")
		s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		peer := func(t *testing.T) queue.Store {
			p, err := sqlite.Open(context.Background(), path, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		rows := func(t *testing.T) int {
			var n int
			if err := s.DB().QueryRow(`SELECT count(*) FROM spool_job_output`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		return queuetest.Backend{Store: s, DB: s.DB(), Peer: peer, OutputRows: rows}
	})
}
