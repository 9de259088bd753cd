package spooltest_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/spooltest"
	"github.com/spooljobs/spool/sqlite"
)

func TestNewDefaultsAndTheAppsStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// Zero options: a fresh file and a clock at the current second.
	before := time.Now().Add(-time.Second)
	k := spooltest.New(t, spooltest.Options{})
	require.WithinRange(t, k.Now(), before, time.Now())
	require.NotNil(t, k.DB())
	k.Advance(time.Hour)
	res, err := k.Queue().Enqueue(ctx, queue.NewJob{Kind: "k", Delay: time.Minute})
	require.NoError(t, err)
	j := k.RequireEnqueued(ctx, t, "k", nil)
	require.Equal(t, res.ID, j.ID)
	require.True(t, j.RunAt.Equal(k.Now().Add(time.Minute)), "the queue reads the kit's clock")

	// The app's own store: the kit builds its queue on it with its clock,
	// and leaves closing it to the app.
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "app.db"), sqlite.Options{})
	require.NoError(t, err)
	defer store.Close()
	app := spooltest.New(t, spooltest.Options{Store: store, Start: start})
	require.Same(t, store, app.Store())
	require.Same(t, store.DB(), app.DB())
	require.Equal(t, start, app.Queue().Now())
	app.RequireOnlyEnqueued(ctx, t)
}
