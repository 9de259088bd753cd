// Package textesc decides which characters of job data (kinds, queues,
// errors, metadata, payloads: anyone's text) spool shows escaped instead of
// as they are, and writes them escaped: control characters, which a
// terminal would act on (escape sequences among them), and invisible
// formatting characters, which make text read other than it is
// (bidirectional overrides such as U+202E, zero-width spaces and joiners).
// The spool command escapes them in its output (Printable), and the admin
// pages show them as visible escapes (package admin, with NeedsEscape and
// Code).
package textesc

import (
	"fmt"
	"strings"
	"unicode"
)

// NeedsEscape reports whether r is shown escaped: C0 controls but newline
// and tab, DEL, C1 controls, and every other character that is neither
// printable nor a space (format characters such as U+200B–U+200F,
// U+202A–U+202E and U+2066–U+2069, unassigned and private-use code points).
func NeedsEscape(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || (!unicode.IsPrint(r) && !unicode.IsSpace(r))
}

// Code is the escape that stands for r: \xNN below U+0100 (the form a
// terminal user knows from escape sequences), else \uNNNN, or \UNNNNNNNN
// beyond U+FFFF.
func Code(r rune) string {
	switch {
	case r < 0x100:
		return fmt.Sprintf("\\x%02x", r)
	case r <= 0xffff:
		return fmt.Sprintf("\\u%04x", r)
	default:
		return fmt.Sprintf("\\U%08x", r)
	}
}

// Printable returns s with every character that NeedsEscape replaced by
// its Code. Newlines and tabs stay.
func Printable(s string) string {
	if !strings.ContainsFunc(s, NeedsEscape) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if NeedsEscape(r) {
			b.WriteString(Code(r))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}
