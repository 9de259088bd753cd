package textesc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Every character the admin and the CLI must not show as it is: C0 and C1
// controls, DEL, bidirectional overrides and isolates, zero-width
// characters; newline, tab, spaces and ordinary text stay.
func TestNeedsEscape(t *testing.T) {
	t.Parallel()
	var must []rune
	for _, lohi := range [][2]rune{{0x00, 0x08}, {0x0b, 0x1f}, {0x7f, 0x9f}, {0x200b, 0x200f}, {0x202a, 0x202e}, {0x2066, 0x2069}} {
		for r := lohi[0]; r <= lohi[1]; r++ {
			must = append(must, r)
		}
	}
	must = append(must, 0xfeff, 0xe0001)
	for _, r := range must {
		require.True(t, NeedsEscape(r), "%U", r)
	}
	for _, r := range "\n\t aé€\u202f\u00a0漢😀" {
		require.False(t, NeedsEscape(r), "%U", r)
	}
	require.Equal(t, `\x1b`, Code(0x1b))
	require.Equal(t, `\x85`, Code(0x85))
	require.Equal(t, `\u202e`, Code(0x202e))
	require.Equal(t, `\U000e0001`, Code(0xe0001))
	require.Equal(t, "a\\u202eb\n\t\\x07", Printable("a\u202eb\n\t\x07"))
	require.Equal(t, "plain", Printable("plain"))
}
