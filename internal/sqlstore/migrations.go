package sqlstore

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one schema migration: a file NNNN_name.sql among a store's
// embedded migrations, applied once and recorded by its version.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the migrations in the directory dir of fsys, whose
// files are all NNNN_name.sql, in version order.
func Migrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration file %q is not NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	return ms, nil
}

// Latest is the version of the newest of ms (in version order), 0 for
// none: the schema version a build migrates to.
func Latest(ms []Migration) int {
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// Pending returns the migrations of ms (in version order) whose versions
// are not among applied, in order, and the newest applied version (0:
// none). A newest beyond Latest(ms) means a later build migrated the
// schema: the caller refuses it (queue.SchemaError).
func Pending(ms []Migration, applied []int64) (todo []Migration, newest int) {
	done := make(map[int]bool, len(applied))
	for _, v := range applied {
		done[int(v)] = true
		newest = max(newest, int(v))
	}
	for _, m := range ms {
		if !done[m.Version] {
			todo = append(todo, m)
		}
	}
	return todo, newest
}
