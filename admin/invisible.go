package admin

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/spooljobs/spool/internal/textesc"
)

// Job data is anyone's text, and some characters would make a page read
// other than it is: a bidirectional override (U+202E) turns "exe.txt"
// into "txt.exe", a zero-width space makes two kinds look alike, control
// characters hide. Every page shows them escaped, as the spool command
// does (package textesc decides which): in text as a marked span,
// <span class="esc" title="U+202E">\u202e</span>, and inside a tag (an
// attribute value such as a title) as the plain escape.
//
// It is done once, on the rendered page, so that no template can forget
// it. The rendered page comes from html/template, which escapes "<" and
// ">" in text and attribute values, so a raw "<" always opens a tag and a
// raw ">" closes one. The pages have no inline script or style; <title>
// and <textarea> hold text only, so they get the plain escape.

// showInvisible returns page with every character that textesc.NeedsEscape
// shown escaped. A page without one is returned as is.
func showInvisible(page []byte) []byte {
	if !bytes.ContainsFunc(page, textesc.NeedsEscape) {
		return page
	}
	out := make([]byte, 0, len(page)+len(page)/16)
	inTag := false
	rawText := false // inside <title> or <textarea>
	for i := 0; i < len(page); {
		c := page[i]
		switch {
		case c == '<':
			inTag = true
			rawText = hasTagPrefix(page[i:], "<title") || hasTagPrefix(page[i:], "<textarea")
			out = append(out, c)
			i++
			continue
		case c == '>':
			inTag = false
			out = append(out, c)
			i++
			continue
		case c < utf8.RuneSelf && !textesc.NeedsEscape(rune(c)):
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(page[i:])
		i += n
		if !textesc.NeedsEscape(r) {
			out = append(out, page[i-n:i]...)
			continue
		}
		if inTag || rawText {
			out = append(out, textesc.Code(r)...)
			continue
		}
		out = fmt.Appendf(out, `<span class="esc" title="U+%04X">%s</span>`, r, textesc.Code(r))
	}
	return out
}

// hasTagPrefix reports whether b starts with the tag name (as "<title"),
// followed by the end of the name.
func hasTagPrefix(b []byte, tag string) bool {
	if len(b) <= len(tag) || !bytes.EqualFold(b[:len(tag)], []byte(tag)) {
		return false
	}
	switch b[len(tag)] {
	case '>', ' ', '\t', '\n', '/':
		return true
	}
	return false
}
