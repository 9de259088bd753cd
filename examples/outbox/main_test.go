package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOutboxExample(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), filepath.Join(t.TempDir(), "app.db"), &out))
	require.Equal(t, `sign up ada@example.com: ok
sign up ada@example.com: email already registered
sign up bob@example.com: ok
2 users, 2 welcome emails queued
`, out.String())
}
