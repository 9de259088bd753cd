package sqlstore_test

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlstore"
)

// A dead job's keys may be NULL.
func TestScanDeadRef(t *testing.T) {
	t.Parallel()
	d, err := sqlstore.ScanDeadRef(row{int64(4), "mail", "customer-9", nil})
	require.NoError(t, err)
	require.Equal(t, sqlstore.DeadRef{ID: 4, Queue: "mail", OrderKey: sql.NullString{String: "customer-9", Valid: true}}, d)
}

// An expiring job's time stays as stored.
func TestScanExpiring(t *testing.T) {
	t.Parallel()
	e, err := sqlstore.ScanExpiring(row{int64(4), nil, int64(1_700_000_000_000_000)})
	require.NoError(t, err)
	require.Equal(t, sqlstore.Expiring{ID: 4, ExpiresAt: 1_700_000_000_000_000}, e)
}
