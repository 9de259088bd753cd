package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/sqlite"
)

// The maintenance commands: migrate, vacuum.

var (
	migrateCommand = &command{name: "migrate", summary: "create a database file or migrate it to this spool's schema",
		run: runMigrate}
	vacuumCommand = &command{name: "vacuum", summary: "return the free pages of the database file to the file system",
		run: runVacuum}
)

const migrateAbout = `Usage: spool migrate [flags]

Migrate creates the database file if it does not exist, or brings an
existing one to this spool's schema, and prints the schema version. It is
the only command that creates or migrates a file. Migrating an SQLite
database that has no spool tables adds them beside the tables it has (an
app may keep its jobs in its own database). Running it again changes
nothing.

Flags:
`

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("migrate", migrateAbout, stderr, true)
	if _, err := c.parse(args); err != nil {
		return err
	}
	path, err := c.path()
	if err != nil {
		return err
	}
	if isPostgresURL(path) {
		return migratePostgres(ctx, c, path, stdout)
	}
	action := "created"
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		// An existing file: find out what it is before writing to it.
		action = "migrated"
		d, err := openDB(ctx, path, true)
		switch {
		case err == nil:
			d.Close()
			action = "none"
		case errors.Is(err, errNoSpoolTables):
			action = "added"
		case errors.Is(err, errOlderSchema):
		default:
			return err // not SQLite, a newer schema, unreadable: leave it alone
		}
	}
	s, err := sqlite.Open(ctx, path, sqlite.Options{CheckpointInterval: -1})
	if err != nil {
		return openError(path, err)
	}
	if err := s.Close(); err != nil {
		return err
	}
	v := sqlite.SchemaVersion()
	if c.json {
		return writeJSON(stdout, struct {
			Path          string `json:"path"`
			SchemaVersion int    `json:"schema_version"`
			Action        string `json:"action"`
		}{path, v, action})
	}
	switch action {
	case "created":
		fmt.Fprintf(stdout, "created %s, schema version %d\n", path, v)
	case "migrated":
		fmt.Fprintf(stdout, "migrated %s to schema version %d\n", path, v)
	case "added":
		fmt.Fprintf(stdout, "added the spool tables to %s, schema version %d\n", path, v)
	default:
		fmt.Fprintf(stdout, "%s is up to date, schema version %d\n", path, v)
	}
	return nil
}

const vacuumAbout = `Usage: spool vacuum [flags]

Vacuum rewrites the database file without its free pages: deleting jobs
leaves the file as large as it was. It holds the write lock while it runs
(writers in other processes wait, up to their busy timeout) and needs free
disk space of about the file's size.

Flags:
`

func runVacuum(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("vacuum", vacuumAbout, stderr, true)
	if _, err := c.parse(args); err != nil {
		return err
	}
	d, err := c.openWrite(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if d.file == nil {
		return usageErrorf("spool vacuum rewrites SQLite files; PostgreSQL's autovacuum (or VACUUM) reclaims space there")
	}
	before := fileSize(d.path)
	if err := d.file.Vacuum(ctx); err != nil {
		return err
	}
	if err := d.Close(); err != nil {
		return err
	}
	after := fileSize(d.path)
	if c.json {
		return writeJSON(stdout, struct {
			Path        string `json:"path"`
			BytesBefore int64  `json:"bytes_before"`
			BytesAfter  int64  `json:"bytes_after"`
		}{d.path, before, after})
	}
	_, err = fmt.Fprintf(stdout, "vacuumed %s: %s → %s\n", d.path, fmtBytes(before), fmtBytes(after))
	return err
}

// fileSize is the size of the database file and its write-ahead log.
func fileSize(path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return plural(n, "byte")
}

// migratePostgres creates or migrates the spool schema on a PostgreSQL
// server and prints its version.
func migratePostgres(ctx context.Context, c *cmdline, raw string, stdout io.Writer) error {
	shown := displayURL(raw)
	conn, schema, err := splitSchema(raw)
	if err != nil {
		return usageErrorf("%s: %v", shown, err)
	}
	s, err := postgres.Open(ctx, conn, postgres.Options{Schema: schema, NoListen: true, MaxConns: 2})
	if err != nil {
		return openError(shown, err)
	}
	if err := s.Close(); err != nil {
		return err
	}
	v := postgres.SchemaVersion()
	if c.json {
		return writeJSON(stdout, struct {
			Path          string `json:"path"`
			Schema        string `json:"schema"`
			SchemaVersion int    `json:"schema_version"`
		}{shown, s.Schema(), v})
	}
	_, err = fmt.Fprintf(stdout, "%s: schema %s is at version %d\n", shown, s.Schema(), v)
	return err
}
