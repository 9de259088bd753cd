package admin_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/admin"
	"github.com/spooljobs/spool/internal/sqlitetest"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// Issue 12, item 7: with a corrupted page the dashboard answered a generic
// 500. On a real file whose ready index (which the dashboard's counts walk)
// has a damaged page, the dashboard now says the file is corrupt and what
// to do, and the other pages carry the same banner while they still render
// what they can read. The file's name is escaped.
func TestCorruptDatabaseBanner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "<b>jobs.db")
	sqlitetest.FileWithJobs(t, path, "mail", 300)
	sqlitetest.CorruptPage(t, path, "spool_jobs_ready")

	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	clock := &fakeClock{t: t0}
	q, err := queue.New(s, queue.Options{Now: clock.Now})
	require.NoError(t, err)
	h, err := admin.New(q, admin.Options{NoAuth: true, ReadOnly: true})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	get := func(p string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + p)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	escaped := html.EscapeString(path)
	banner := func(body string) {
		t.Helper()
		require.Contains(t, body, `id="corrupt-banner"`)
		require.Contains(t, body, "The database file is corrupt.")
		require.Contains(t, body, "spool check -db "+escaped)
		require.Contains(t, body, "PRAGMA integrity_check")
		require.Contains(t, body, "sqlite3 "+escaped+" .recover")
		require.Contains(t, body, "malformed", "the store's own error")
		require.NotContains(t, body, "<b>jobs.db")
	}

	status, body := get("/")
	require.Equal(t, http.StatusInternalServerError, status)
	require.NotContains(t, body, "internal error")
	require.Contains(t, body, "the database file is corrupt")
	banner(body)

	// The job list reads the table, not the damaged index: it renders,
	// with the banner.
	status, body = get("/jobs")
	require.Equal(t, http.StatusOK, status)
	banner(body)
	require.Contains(t, body, "mail")

	// The JSON API says the same.
	resp, err := http.Get(srv.URL + "/api/stats")
	require.NoError(t, err)
	var apiErr struct{ Error string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&apiErr))
	resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.True(t, strings.Contains(apiErr.Error, "corrupt") && strings.Contains(apiErr.Error, "spool check"), apiErr.Error)

	// Pages that do not reach the damage drop the banner a while after
	// the last page that did.
	clock.Add(16 * time.Minute)
	status, body = get("/jobs")
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, body, "corrupt-banner")
}
