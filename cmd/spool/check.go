package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spooljobs/spool/queue"
)

var checkCommand = &command{name: "check", summary: "check the database file for damage (SQLite's quick_check or integrity_check)",
	run: runCheck}

const checkAbout = `Usage: spool check [-full] [flags]

Check runs SQLite's check of the database file, read-only, and prints ok or
the problems it found (at most 100). It exits with status 1 when the file is
damaged; with -json it prints the result on stdout either way. A quick check
verifies every page and record; -full also matches every index against its
table, and takes longer. Both read the whole file: run them off-peak on a
large one.

A damaged file does not heal. Stop the processes that use it, restore it
from a backup, or salvage what can be read with the sqlite3 shell:

  sqlite3 damaged.db .recover | sqlite3 recovered.db

then check the recovered file and move it in place.

Flags:
`

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCmdline("check", checkAbout, stderr, true)
	full := c.fs.Bool("full", false, "run integrity_check (every index against its table), not quick_check")
	if _, err := c.parse(args); err != nil {
		return err
	}
	check := "quick_check"
	if *full {
		check = "integrity_check"
	}
	path, err := c.path()
	if err != nil {
		return err
	}
	if isPostgresURL(path) {
		return usageErrorf("spool check reads SQLite files; on PostgreSQL use the server's own checks (amcheck, pg_amcheck)")
	}
	var problems []string
	d, err := openDB(ctx, path, true)
	switch {
	case errors.Is(err, queue.ErrCorrupt):
		// Damage where opening reads: the schema, the migrations table.
		problems = []string{"opening the file failed: " + err.Error()}
	case err != nil:
		return err
	default:
		problems, err = d.file.Check(ctx, *full)
		d.Close()
		if err != nil {
			return err
		}
	}
	if c.json {
		if problems == nil {
			problems = []string{}
		}
		if err := writeJSON(stdout, struct {
			Path     string   `json:"path"`
			Check    string   `json:"check"`
			OK       bool     `json:"ok"`
			Problems []string `json:"problems"`
		}{path, check, len(problems) == 0, problems}); err != nil {
			return err
		}
	}
	if len(problems) == 0 {
		if !c.json {
			fmt.Fprintf(stdout, "ok: %s passed %s\n", path, check)
		}
		return nil
	}
	if !c.json {
		for _, p := range problems {
			fmt.Fprintln(stderr, printable(p))
		}
	}
	return fmt.Errorf("%s is damaged: %s found %s. Stop the processes that use it, then restore it from a backup, "+
		"or salvage what is readable with 'sqlite3 %s .recover | sqlite3 recovered.db' and check the result", path, check, plural(len(problems), "problem"), path)
}
