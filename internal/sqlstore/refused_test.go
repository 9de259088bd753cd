package sqlstore_test

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

// The refusals wrap the sentinel callers check and name the job.
func TestRefused(t *testing.T) {
	t.Parallel()
	err := sqlstore.CancelRefused(7, queue.StateDead)
	require.ErrorIs(t, err, queue.ErrNotCancellable)
	require.EqualError(t, err, "cancel job 7 (dead): "+queue.ErrNotCancellable.Error())
	require.ErrorIs(t, sqlstore.CancelRefused(7, queue.StateCompleted), queue.ErrNotCancellable)
	require.ErrorIs(t, sqlstore.CancelRefused(7, ""), queue.ErrNotFound)

	require.ErrorIs(t, sqlstore.DeleteRefused(7, true), queue.ErrRunning)
	require.ErrorIs(t, sqlstore.DeleteRefused(7, false), queue.ErrNotFound)
}

// Found tells a row from none and passes other errors on.
func TestFound(t *testing.T) {
	t.Parallel()
	found, err := sqlstore.Found(nil)
	require.True(t, found)
	require.NoError(t, err)
	found, err = sqlstore.Found(fmt.Errorf("wrapped: %w", sql.ErrNoRows))
	require.False(t, found)
	require.NoError(t, err)
	boom := errors.New("boom")
	found, err = sqlstore.Found(boom)
	require.False(t, found)
	require.Same(t, boom, err)
}
