package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spooljobs/spool/queue"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. File names
// are NNNN_name.sql.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("sqlite: bad migration file name %q", e.Name())
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// SchemaVersion is the schema version this build of spool migrates to.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
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
	ms, err := migrations()
	if err != nil {
		return err
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
	versions, err := collect(rows, scanID)
	if err != nil {
		return mapErr(err)
	}
	applied := map[int]bool{}
	newest := 0
	for _, v := range versions {
		applied[int(v)] = true
		newest = max(newest, int(v))
	}
	if known := ms[len(ms)-1].version; newest > known {
		return &queue.SchemaError{Have: newest, Want: known}
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("sqlite: migration %04d_%s: %w", m.version, m.name, mapErr(err))
		}
		if _, err := tx.ExecContext(ctx, sqlRecordMigration, m.version, m.name, time.Now().UnixMicro()); err != nil {
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
