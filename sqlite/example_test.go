package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// Open creates the file, sets it up and migrates it; the queue then works
// on it.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "spool-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	store, err := sqlite.Open(ctx, filepath.Join(dir, "jobs.db"), sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		log.Fatal(err)
	}
	res, err := q.Enqueue(ctx, queue.NewJob{Kind: "email.receipt", Args: map[string]int{"order": 10245}})
	if err != nil {
		log.Fatal(err)
	}
	j, err := q.Inspector().Get(ctx, res.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(j.Kind, j.State, string(j.Payload))
	// Output: email.receipt pending {"order":10245}
}

// New keeps the jobs in the app's own database, so that an order and its
// follow-up job commit together (the transactional outbox).
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "spool-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// The app opens its database with spool's settings.
	dsn, err := sqlite.DSN(filepath.Join(dir, "shop.db"), sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE orders (id INTEGER PRIMARY KEY, total_cents INTEGER)`); err != nil {
		log.Fatal(err)
	}
	store, err := sqlite.New(ctx, db, sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		log.Fatal(err)
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	r, err := tx.ExecContext(ctx, `INSERT INTO orders (total_cents) VALUES (?)`, 6997)
	if err != nil {
		log.Fatal(err)
	}
	order, _ := r.LastInsertId()
	if _, err := q.EnqueueTx(ctx, tx, queue.NewJob{Kind: "payment.charge", Args: map[string]int64{"order": order}}); err != nil {
		log.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}

	st, err := q.Inspector().Stats(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("order", order, "and its job:", st.Queues[0].Pending, "pending")
	// Output: order 1 and its job: 1 pending
}
