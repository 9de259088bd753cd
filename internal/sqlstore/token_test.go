package sqlstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/internal/sqlstore"
)

// Tokens are positive and do not repeat.
func TestNewToken(t *testing.T) {
	t.Parallel()
	seen := map[int64]bool{}
	for range 1000 {
		tok := sqlstore.NewToken()
		require.Positive(t, tok)
		require.False(t, seen[tok])
		seen[tok] = true
	}
}
