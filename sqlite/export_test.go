package sqlite

import "github.com/spooljobs/spool/internal/sqlstore"

// RunFileCheckOnce runs one round of the store's background check of its
// database file (filecheck.go), as the loop does every second.
func RunFileCheckOnce(s *Store) error { return s.runFileCheckOnce() }

// MigrationVersions lists the embedded migrations' versions, in order.
// Their numbers need not be consecutive (branches reserve numbers).
func MigrationVersions() []int {
	ms, _ := sqlstore.Migrations(migrationFiles, "migrations")
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.Version
	}
	return out
}
