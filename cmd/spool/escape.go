package main

import (
	"fmt"
	"strings"
	"unicode"
)

// printable escapes what a terminal would act on instead of showing:
// control characters (escape sequences among them) as \xNN, other
// invisible formatting (bidirectional overrides, say) as \uNNNN. Newlines
// and tabs stay.
func printable(s string) string {
	if !strings.ContainsFunc(s, needsEscape) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !needsEscape(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.String()
}

func needsEscape(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || (!unicode.IsPrint(r) && !unicode.IsSpace(r))
}
