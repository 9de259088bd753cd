package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlitetest"
)

// spool check passes a sound file and reports a damaged page, with what to
// do, in text and JSON, quick and full.
func TestCLICheck(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "spool.db")
	sqlitetest.FileWithJobs(t, path, "k", 300)

	r := ok(t, "check", "-db", path)
	require.Equal(t, "ok: "+path+" passed quick_check\n", r.stdout)
	r = ok(t, "check", "-full", "-db", path)
	require.Equal(t, "ok: "+path+" passed integrity_check\n", r.stdout)

	root := sqlitetest.CorruptPage(t, path, "spool_jobs_ready")
	for _, full := range []bool{false, true} {
		args := []string{"check", "-db", path}
		if full {
			args = append(args, "-full")
		}
		r := fails(t, 1, path+" is damaged", args...)
		require.Contains(t, r.stderr, "page "+itoa(root))
		require.Contains(t, r.stderr, "sqlite3 "+path+" .recover")
		require.Contains(t, r.stderr, "backup")

		r = spool(t, append(args, "-json")...)
		require.Equal(t, 1, r.code, r.stderr)
		var out struct {
			Path     string
			Check    string
			OK       bool
			Problems []string
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &out))
		require.Equal(t, path, out.Path)
		require.False(t, out.OK)
		require.NotEmpty(t, out.Problems)
	}
}

func itoa(n int64) string { return fmt.Sprint(n) }
