package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strings"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// SchemaVersion is the schema version this build of spool migrates to.
func SchemaVersion() int {
	ms, _ := sqlstore.Migrations(migrationFiles, "migrations")
	return sqlstore.Latest(ms)
}

const (
	sqlCreateMigrations = `CREATE TABLE IF NOT EXISTS spool_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at INTEGER NOT NULL)`
	sqlAppliedVersions = `SELECT version FROM spool_migrations ORDER BY version`
	sqlRecordMigration = `INSERT INTO spool_migrations (version, name, applied_at) VALUES (?, ?, ?)`
)

// migrate applies the missing migrations in one write transaction. The
// first statement writes, so the transaction holds the write lock from its
// start: two processes migrating at once run one after the other, and the
// second finds nothing left to do.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := sqlstore.Migrations(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, sqlCreateMigrations); err != nil {
		return mapErr(err)
	}
	rows, err := tx.QueryContext(ctx, sqlAppliedVersions)
	if err != nil {
		return mapErr(err)
	}
	applied, err := collect(rows, scanID)
	if err != nil {
		return mapErr(err)
	}
	todo, newest := sqlstore.Pending(ms, applied)
	if known := sqlstore.Latest(ms); newest > known {
		return &queue.SchemaError{Have: newest, Want: known}
	}
	for _, m := range todo {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("sqlite: migration %04d_%s: %w", m.Version, m.Name, mapErr(err))
		}
		if _, err := tx.ExecContext(ctx, sqlRecordMigration, m.Version, m.Name, time.Now().UnixMicro()); err != nil {
			return mapErr(err)
		}
	}
	return mapErr(tx.Commit())
}

// checkSchema verifies, without writing, that db holds a spool schema this
// build can use.
func checkSchema(ctx context.Context, db *sql.DB) error {
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT max(version) FROM spool_migrations`).Scan(&v)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return fmt.Errorf("not a spool database (no spool_migrations table): %w", &queue.SchemaError{Want: SchemaVersion()})
		}
		return mapErr(err)
	}
	if int(v.Int64) != SchemaVersion() {
		return &queue.SchemaError{Have: int(v.Int64), Want: SchemaVersion()}
	}
	return nil
}
