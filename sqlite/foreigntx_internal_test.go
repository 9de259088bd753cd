package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The foreign-transaction check starts no read transaction: a caller's
// deferred transaction that writes after it still succeeds when another
// connection committed in between (a SELECT from pragma_database_list
// fails it with SQLITE_BUSY_SNAPSHOT).
func TestMainFileStartsNoReadTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
		require.NoError(t, err)
		t.Cleanup(func() { db.Close() })
		return db
	}
	db, other := open(), open()
	_, err := db.Exec(`CREATE TABLE t (x)`)
	require.NoError(t, err)
	tx, err := db.BeginTx(ctx, nil) // deferred
	require.NoError(t, err)
	defer tx.Rollback()
	file, err := mainFile(ctx, tx)
	require.NoError(t, err)
	require.Equal(t, "app.db", filepath.Base(file))
	_, err = other.Exec(`INSERT INTO t VALUES (1)`)
	require.NoError(t, err)
	_, err = tx.Exec(`INSERT INTO t VALUES (2)`)
	require.NoError(t, err, "the check began a read transaction")
	require.NoError(t, tx.Commit())
}
