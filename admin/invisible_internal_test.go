package admin

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// In text a marked span, in a tag (attributes) and in <title> or
// <textarea> the plain escape; the rest of the page unchanged.
func TestShowInvisible(t *testing.T) {
	t.Parallel()
	in := "<title>t\u202e</title><a title=\"a\u202eb\" href=\"/x\">x\u202e\u00e9\x1b</a><textarea>\u200b</textarea><p>\u200f</p>"
	want := `<title>t\u202e</title><a title="a\u202eb" href="/x">x<span class="esc" title="U+202E">\u202e</span>` + "\u00e9" +
		`<span class="esc" title="U+001B">\x1b</span></a><textarea>\u200b</textarea><p><span class="esc" title="U+200F">\u200f</span></p>`
	require.Equal(t, want, string(showInvisible([]byte(in))))
	plain := []byte("<p>plain \u00e9 text\n\twith 1\u202f234</p>")
	require.Equal(t, string(plain), string(showInvisible(plain)))
}
