package postgres

import (
	"context"
	"embed"
	"fmt"

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

// The migration lock: a transaction-scoped advisory lock, keyed by the
// schema's name, so that hosts starting at once migrate one after the
// other and the later ones find the work done.
const (
	sqlMigrationLock   = `SELECT pg_advisory_xact_lock(hashtextextended('spool-migrate:' || $1, 0))`
	sqlCreateMigration = `CREATE TABLE IF NOT EXISTS spool.migrations (
  version    integer PRIMARY KEY,
  name       text    NOT NULL,
  applied_at bigint  NOT NULL
)`
	sqlAppliedMigrations = `SELECT version FROM spool.migrations`
	// sqlRecordMigration stamps a migration with the database's own clock
	// (clock.go), the frame of every stored time.
	sqlRecordMigration = `INSERT INTO spool.migrations (version, name, applied_at)
  VALUES ($1, $2, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)`
	sqlInitMeta = `INSERT INTO spool.meta (id, store_id) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`
)

// migrate applies the migrations the schema lacks, in one transaction.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := sqlstore.Migrations(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", mapErr(err))
	}
	defer tx.Rollback()
	// The schema's name is validated (Options.Schema): the one identifier
	// written into a statement.
	createSchema := `CREATE SCHEMA IF NOT EXISTS "` + s.schema + `"`
	if _, err := tx.ExecContext(ctx, sqlMigrationLock, s.schema); err != nil {
		return fmt.Errorf("postgres: migrate: %w", mapErr(err))
	}
	for _, q := range []string{createSchema, s.sql(sqlCreateMigration)} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("postgres: migrate: %w", mapErr(err))
		}
	}
	rows, err := tx.QueryContext(ctx, s.sql(sqlAppliedMigrations))
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", mapErr(err))
	}
	applied, err := collect(rows, scanID)
	if err != nil {
		return mapErr(err)
	}
	todo, newest := sqlstore.Pending(ms, applied)
	if known := sqlstore.Latest(ms); newest > known {
		return &queue.SchemaError{Have: newest, Want: known, Path: "schema " + s.schema}
	}
	for _, m := range todo {
		if _, err := tx.ExecContext(ctx, s.sql(m.SQL)); err != nil {
			return fmt.Errorf("postgres: migration %04d_%s: %w", m.Version, m.Name, mapErr(err))
		}
		if _, err := tx.ExecContext(ctx, s.sql(sqlRecordMigration), m.Version, m.Name); err != nil {
			return mapErr(err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.sql(sqlInitMeta), newStoreID()); err != nil {
		return mapErr(err)
	}
	return mapErr(tx.Commit())
}

// sqlSchemaVersion reads the newest migration applied to the schema.
const sqlSchemaVersion = `SELECT coalesce(max(version), 0) FROM spool.migrations`

// checkSchema verifies, without writing, that the schema holds spool's
// tables at this build's version.
func (s *Store) checkSchema(ctx context.Context) error {
	var v int
	err := s.db.QueryRowContext(ctx, s.sql(sqlSchemaVersion)).Scan(&v)
	switch {
	case isCode(err, codeUndefinedTable), isCode(err, codeUndefinedSchema):
		v = 0
	case err != nil:
		return fmt.Errorf("postgres: read the schema version: %w", mapErr(err))
	}
	if v != SchemaVersion() {
		return &queue.SchemaError{Have: v, Want: SchemaVersion(), Path: "schema " + s.schema}
	}
	return nil
}
