// Command outbox shows the transactional outbox: an app table and its jobs
// in one SQLite file, written in one transaction. A rolled-back signup
// leaves neither the user nor the welcome email; a committed one has both.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

func main() {
	dir, err := os.MkdirTemp("", "spool-outbox")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := run(context.Background(), filepath.Join(dir, "app.db"), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

var errEmailTaken = errors.New("email already registered")

// signUp stores a user and enqueues the welcome email in one transaction.
func signUp(ctx context.Context, store *sqlite.Store, q *queue.Queue, email string) error {
	tx, err := store.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // undoes the user and the job unless committed
	if _, err := q.EnqueueTx(ctx, tx, queue.NewJob{Kind: "email.welcome", Args: email}); err != nil {
		return err
	}
	var taken bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE email = ?)`, email).Scan(&taken); err != nil {
		return err
	}
	if taken {
		return errEmailTaken // the rollback takes the job with it
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO users (email) VALUES (?)`, email); err != nil {
		return err
	}
	return tx.Commit()
}

func run(ctx context.Context, path string, out io.Writer) error {
	store, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		return err
	}
	// The app's own table lives in the spool database.
	if _, err := store.DB().ExecContext(ctx, `CREATE TABLE IF NOT EXISTS users (email TEXT PRIMARY KEY)`); err != nil {
		return err
	}
	for _, email := range []string{"ada@example.com", "ada@example.com", "bob@example.com"} {
		err := signUp(ctx, store, q, email)
		fmt.Fprintf(out, "sign up %s: %v\n", email, errOrOK(err))
	}
	var users int
	if err := store.DB().QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&users); err != nil {
		return err
	}
	jobs, err := q.Inspector().List(ctx, queue.ListFilter{Kind: "email.welcome"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d users, %d welcome emails queued\n", users, len(jobs))
	return nil
}

func errOrOK(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
