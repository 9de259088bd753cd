// Package pgtest finds the PostgreSQL server that the postgres store's
// tests run against and gives each test a fresh schema on it.
//
// The server's URL comes from SPOOL_PG_URL, by default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. Where no server
// answers, tests skip saying so, so that go test ./... passes on a laptop;
// with SPOOL_REQUIRE_POSTGRES=1 (as .ci/run sets) they fail instead.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	neturl "net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// DefaultURL is the server tests use when SPOOL_PG_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL returns the test server's URL, skipping (or, with
// SPOOL_REQUIRE_POSTGRES=1, failing) t when no server answers there.
func URL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("SPOOL_PG_URL")
	if url == "" {
		url = DefaultURL
	}
	db, err := sql.Open("pgx", url)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		db.Close()
	}
	if err != nil {
		msg := fmt.Sprintf("no PostgreSQL server at %s (set SPOOL_PG_URL): %v", url, err)
		if os.Getenv("SPOOL_REQUIRE_POSTGRES") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; skipping")
	}
	return url
}

// Schema returns the name of a fresh schema for t, dropped with everything
// in it when t ends. The store creates the schema itself.
func Schema(t testing.TB, url string) string {
	t.Helper()
	name := "t_" + strings.ToLower(rand.Text()[:12])
	t.Cleanup(func() {
		db, err := sql.Open("pgx", url)
		if err != nil {
			return
		}
		defer db.Close()
		db.ExecContext(context.Background(), `DROP SCHEMA IF EXISTS "`+name+`" CASCADE`)
	})
	return name
}

// Database creates a fresh database on the server at url for t, dropped
// when t ends, and returns its URL: for programs that use the default
// schema and tables of their own (the shop, the spool command).
func Database(t testing.TB, url string) string {
	t.Helper()
	name := "t_" + strings.ToLower(rand.Text()[:12])
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(context.Background(), `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", url)
		if err != nil {
			return
		}
		defer db.Close()
		db.ExecContext(context.Background(), `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
	})
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// WaitBlockedBy waits until want sessions wait for a lock that backend
// pid holds: a test then knows the order in which writes queue for a lock
// without sleeping.
func WaitBlockedBy(t testing.TB, db *sql.DB, pid, want int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, pid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions wait for backend %d, not %d", n, pid, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Begin begins a transaction on db and returns it with its backend's pid,
// for WaitBlockedBy. The test rolls it back when it ends (a no-op after a
// Commit).
func Begin(t testing.TB, db *sql.DB) (*sql.Tx, int) {
	t.Helper()
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	var pid int
	if err := tx.QueryRow(`SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return tx, pid
}

// InTx runs f in a transaction of its own on db, in a goroutine, and
// commits it when f succeeds: the returned channel gets f's error, or the
// commit's. Tests of lock order start writes with it that must queue
// behind a transaction the test holds.
func InTx(ctx context.Context, db *sql.DB, f func(tx *sql.Tx) error) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if err := f(tx); err != nil {
				return err
			}
			return tx.Commit()
		}()
	}()
	return done
}
