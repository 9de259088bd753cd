package main

import "github.com/spooljobs/spool/internal/textesc"

// printable escapes what a terminal would act on instead of showing:
// control characters (escape sequences among them) as \xNN, other
// invisible formatting (bidirectional overrides, say) as \uNNNN. Newlines
// and tabs stay. The rules are package textesc's, which the admin pages
// share.
func printable(s string) string { return textesc.Printable(s) }

func needsEscape(r rune) bool { return textesc.NeedsEscape(r) }
