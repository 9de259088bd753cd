package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/queuetest"
)

// openStore opens a store on a fresh schema of the test server and closes
// it when the test ends.
func openStore(t *testing.T, opts postgres.Options) *postgres.Store {
	t.Helper()
	url := pgtest.URL(t)
	opts.Schema = pgtest.Schema(t, url)
	s, err := postgres.Open(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the shared Store contract suite on PostgreSQL, each
// case on a fresh schema. A case that opens a second store (to show that a
// transaction of another database is refused) gets it in another database
// of the server: a schema of the same database is not foreign.
func TestConformance(t *testing.T) {
	runConformance(t, postgres.Options{MaxConns: 4})
}

// TestConformanceSkewedHost runs the suite on stores whose host clock is an
// hour fast: every time they store is shifted by an hour back into the
// database's frame (clock.go) and forward again when read, so a time
// written or read without the shift breaks a round trip or an order.
func TestConformanceSkewedHost(t *testing.T) {
	fast := func() time.Time { return time.Now().Add(time.Hour) }
	runConformance(t, postgres.WithHostClock(postgres.Options{MaxConns: 4}, postgres.HostClock{Now: fast}))
}

// runConformance runs the suite on stores opened with opts.
func runConformance(t *testing.T, opts postgres.Options) {
	var mu sync.Mutex
	opened := map[*testing.T]bool{}
	queuetest.Run(t, func(t *testing.T) queuetest.Backend {
		mu.Lock()
		second := opened[t]
		opened[t] = true
		mu.Unlock()
		url := pgtest.URL(t)
		if second {
			url = otherDatabase(t, url)
		}
		o := opts
		o.Schema = pgtest.Schema(t, url)
		s, err := postgres.Open(context.Background(), url, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		peer := func(t *testing.T) queue.Store {
			p, err := postgres.Open(context.Background(), url, o)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		rows := func(t *testing.T) int {
			var n int
			if err := s.DB().QueryRow(`SELECT count(*) FROM "` + o.Schema + `".job_output`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		return queuetest.Backend{Store: s, DB: s.DB(), Peer: peer, OutputRows: rows}
	})
}

// Open migrates a fresh schema, and a second Open of it finds the work
// done (several hosts starting at once migrate once).
func TestOpenMigratesOnce(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	ctx := context.Background()
	errs := make(chan error, 4)
	stores := make(chan *postgres.Store, 4)
	for range 4 {
		go func() {
			s, err := postgres.Open(ctx, url, postgres.Options{Schema: schema, MaxConns: 2})
			errs <- err
			stores <- s
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		if s := <-stores; s != nil {
			defer s.Close()
		}
	}
}
