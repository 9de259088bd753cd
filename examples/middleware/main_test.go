package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMiddlewareExample(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), filepath.Join(t.TempDir(), "spool.db"), &out))
	require.Equal(t, `invoice.pdf attempt 1: pdf renderer busy
invoice.pdf attempt 2: ok
invoice.pdf attempt 1: permanent: invoice 2026-0043 has no amount
dead job 2: permanent error: invoice 2026-0043 has no amount
`, out.String())
}
