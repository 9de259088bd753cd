package main

// spool bench on PostgreSQL: -db postgres://… runs the scenario in a fresh
// schema on that server, dropped with everything in it afterwards.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
)

// newPostgresBenchDB names a fresh schema for a run on the server at raw,
// which must not choose a schema itself.
func newPostgresBenchDB(raw string) (*benchDB, error) {
	shown := displayURL(raw)
	conn, schema, err := splitSchema(raw)
	if err != nil {
		return nil, usageErrorf("-db %s: %v", shown, err)
	}
	if schema != "" {
		return nil, usageErrorf("-db %s: leave out spool_schema; bench runs in a fresh schema of its own and drops it afterwards", shown)
	}
	schema = "spool_bench_" + strings.ToLower(rand.Text()[:12])
	u, err := url.Parse(conn)
	if err != nil {
		return nil, usageErrorf("-db %s: %v", shown, err)
	}
	qv := u.Query()
	qv.Set("spool_schema", schema)
	u.RawQuery = qv.Encode()
	return &benchDB{arg: u.String(), shown: displayURL(u.String()), conn: conn, schema: schema}, nil
}

// dropBenchSchemaSQL drops a run's schema. A schema name cannot be bound;
// the name is bench's own, of lower-case letters, digits and _.
const dropBenchSchemaSQL = `DROP SCHEMA IF EXISTS "%s" CASCADE`

// dropBenchSchema drops the run's schema on the server at conn, with every
// table in it.
func dropBenchSchema(ctx context.Context, conn, schema string) error {
	db, err := sql.Open("pgx", conn)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, fmt.Sprintf(dropBenchSchemaSQL, schema)); err != nil {
		return fmt.Errorf("drop the bench's schema %s: %w", schema, err)
	}
	return nil
}
