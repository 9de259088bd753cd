package sqlstore_test

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlstore"
)

// Files are read in version order, whatever their names sort as; a file
// not named NNNN_name.sql is refused.
func TestMigrations(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"m/0010_later.sql": {Data: []byte("SELECT 10")},
		"m/0002_two.sql":   {Data: []byte("SELECT 2")},
		"m/0001_init.sql":  {Data: []byte("SELECT 1")},
	}
	ms, err := sqlstore.Migrations(fsys, "m")
	require.NoError(t, err)
	require.Equal(t, []sqlstore.Migration{
		{Version: 1, Name: "init", SQL: "SELECT 1"},
		{Version: 2, Name: "two", SQL: "SELECT 2"},
		{Version: 10, Name: "later", SQL: "SELECT 10"},
	}, ms)
	require.Equal(t, 10, sqlstore.Latest(ms))
	require.Equal(t, 0, sqlstore.Latest(nil))

	todo, newest := sqlstore.Pending(ms, []int64{2, 1})
	require.Equal(t, ms[2:], todo)
	require.Equal(t, 2, newest)
	todo, newest = sqlstore.Pending(ms, nil)
	require.Equal(t, ms, todo)
	require.Zero(t, newest)
	todo, newest = sqlstore.Pending(ms, []int64{1, 2, 10, 11})
	require.Empty(t, todo)
	require.Equal(t, 11, newest)

	for _, bad := range []string{"m/init.sql", "m/0003.sql", "m/x_y.sql"} {
		_, err := sqlstore.Migrations(fstest.MapFS{bad: {Data: []byte("")}}, "m")
		require.Error(t, err, bad)
	}
}
