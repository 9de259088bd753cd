// Package sqlitetest damages spool database files for tests: the tests of
// several packages check what spool does with a corrupted page.
package sqlitetest

import (
	"bytes"
	"database/sql"
	"os"
	"testing"

	_ "modernc.org/sqlite" // the driver the store uses
)

// CorruptPage overwrites the root page of the table or index named object
// in the closed database file at path with garbage, and returns the page's
// number. Every store on the file must be closed first (the write-ahead
// log is checkpointed into the file here). Reads and writes that reach the
// page then fail with SQLITE_CORRUPT; the rest of the file stays readable.
func CorruptPage(tb testing.TB, path, object string) int64 {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		tb.Fatal(err)
	}
	const sqlRoot = `SELECT rootpage FROM sqlite_schema WHERE name = ?`
	var root, pageSize int64
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		tb.Fatal(err)
	}
	if err := db.QueryRow(sqlRoot, object).Scan(&root); err != nil {
		tb.Fatalf("sqlitetest: root page of %s in %s: %v", object, path, err)
	}
	if err := db.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	if root <= 1 {
		tb.Fatalf("sqlitetest: %s has root page %d; refusing to damage the file header", object, root)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, int(pageSize)), (root-1)*pageSize); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return root
}
