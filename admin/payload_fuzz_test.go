package admin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/spooljobs/spool/internal/textesc"
	"github.com/spooljobs/spool/queue"
	"github.com/spooljobs/spool/sqlite"
)

// PayloadSeeds are the payloads FuzzPayloadView and FuzzPayload start
// from.
var PayloadSeeds = []string{
	``,
	`{}`,
	`{"order": 1, "note": "<script>alert(1)</script>"}`,
	`{"raw": "\u003cimg src=x onerror=alert(1)\u003e \u0026 \u003C \u003E"}`,
	`{"a": "\\u003c", "b": "\\\u003c"}`,
	`[1, 2.50, 1e400, -0, 12345678901234567890]`,
	`"just a string"`,
	`  {"spaced":  true}  `,
	`{"dup": 1, "dup": 2}`,
	`{"bad utf8": "` + "\xff\xfe" + `"}`, // was pretty-printed as invalid UTF-8
	`{"nul": "\u0000"}`,
	"{\"ctrl\": \"\u2028\u2029\"}",
	`{"a":`,
	`plain text with <b>markup</b> & "quotes" 'too'`,
	"line one\nline two\r\n\ttabbed",
	"nul \x00 byte",
	"\xff\xfe\x00<binary>",
	"\xef\xbb\xbf{\"bom\": 1}",
	"]]></pre><script>alert(1)</script>",
	"</pre><img src=x onerror=alert(1)>",
	"&lt;already escaped&gt;",
}

// JobPayloadRE finds the payload section of a job page: the kind shown,
// and the escaped payload (absent for an empty one).
var JobPayloadRE = regexp.MustCompile(`(?s)<h2>Payload</h2><span class="muted">([^<]*) · [^<]* bytes(?: <a [^>]*>[^<]*</a>)?</span>.*?(?:<pre class="code" id="payload">(.*?)</pre>|</section>)`)

// EscSpanRE finds the span that shows an invisible or control character:
// its code point and the escape shown.
var EscSpanRE = regexp.MustCompile(`<span class="esc" title="U\+([0-9A-F]{4,6})">([^<]*)</span>`)

// FuzzPayloadView renders a fuzzed payload on the job page's template as
// the job page does (payloadView) and checks what CheckPayloadShown checks.
// No store access per input: a few thousand inputs a second.
//
// Run it longer with:
//
//	go test ./admin -run '^$' -fuzz '^FuzzPayloadView$' -fuzztime 60s
func FuzzPayloadView(f *testing.F) {
	for _, p := range PayloadSeeds {
		f.Add([]byte(p))
	}
	store, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "spool.db"), sqlite.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	q, err := queue.New(store, queue.Options{})
	if err != nil {
		f.Fatal(err)
	}
	h, err := New(q, Options{NoAuth: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if len(payload) > 1<<16 {
			t.Skip("longer than the fuzzer needs")
		}
		// As jobPage builds it.
		j := &queue.Job{ID: 1, Queue: "default", Kind: "k", State: queue.StatePending, Payload: payload}
		d := &jobDetail{Job: j, PayloadSize: len(payload), CanCancel: true, CanDelete: true}
		d.Payload, d.PayloadKind = payloadView(payload)
		w, r := httptest.NewRecorder(), httptest.NewRequest("GET", "/jobs/1", nil)
		if err := h.render(w, r, 200, "job", "layout", h.newPage(w, r, "Job 1", "jobs", d)); err != nil {
			t.Fatalf("render %q: %v", payload, err)
		}
		page := w.Body.String()
		if !utf8.ValidString(page) {
			t.Fatalf("the page for %q is not valid UTF-8", payload)
		}
		m := JobPayloadRE.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no payload section on the job page for %q", payload)
		}
		CheckPayloadShown(t, "job page", payload, m[1], m[2])
	})
}

// CheckPayloadShown checks a payload's block on a page: kind is the kind
// shown, escaped the HTML shown (between <pre> and </pre>). No "<" or ">"
// of the payload reaches the page raw, and the text shown gives the
// payload back: the same JSON value, pretty-printed, when it is shown as
// JSON (only valid UTF-8 JSON is); the same text when it is shown as text;
// the same bytes through base64 otherwise.
//
// Invisible and control characters are shown as escape spans (see
// showInvisible); each span stands for its character here.
func CheckPayloadShown(t *testing.T, where string, payload []byte, kind, escaped string) {
	t.Helper()
	escaped = EscSpanRE.ReplaceAllStringFunc(escaped, func(span string) string {
		m := EscSpanRE.FindStringSubmatch(span)
		r, err := strconv.ParseUint(m[1], 16, 32)
		if err != nil || !textesc.NeedsEscape(rune(r)) || m[2] != textesc.Code(rune(r)) {
			t.Fatalf("%s: the escape span %q of %q is wrong", where, span, payload)
		}
		return html.EscapeString(string(rune(r)))
	})
	if strings.ContainsAny(escaped, "<>") {
		t.Fatalf("%s: the payload %q is shown with a raw < or >: %q", where, payload, escaped)
	}
	shown := html.UnescapeString(escaped)
	switch kind {
	case "empty":
		if len(payload) != 0 || escaped != "" {
			t.Fatalf("%s: %q is shown as empty, as %q", where, payload, escaped)
		}
	case "JSON":
		if !utf8.Valid(payload) || !json.Valid(payload) {
			t.Fatalf("%s: %q is shown as JSON but is not UTF-8 JSON", where, payload)
		}
		if !json.Valid([]byte(shown)) {
			t.Fatalf("%s: %q is shown as JSON %q, which is not JSON", where, payload, shown)
		}
		if want, got := DecodeJSONExact(t, payload), DecodeJSONExact(t, []byte(shown)); !reflect.DeepEqual(want, got) {
			t.Fatalf("%s: %q is shown as JSON %q, which means %#v, not %#v", where, payload, shown, got, want)
		}
		// Pretty-printed: indenting it again changes nothing.
		var indented bytes.Buffer
		if err := json.Indent(&indented, []byte(shown), "", "  "); err != nil || indented.String() != shown {
			t.Fatalf("%s: %q is shown as %q, not pretty-printed (%q)", where, payload, shown, indented.String())
		}
	case "text":
		// html/template writes NUL as U+FFFD.
		if !utf8.Valid(payload) || shown != strings.ReplaceAll(string(payload), "\x00", "\uFFFD") {
			t.Fatalf("%s: %q is shown as text %q", where, payload, shown)
		}
	case "binary, base64":
		b, err := base64.StdEncoding.DecodeString(shown)
		if err != nil || !bytes.Equal(b, payload) {
			t.Fatalf("%s: %q is shown as base64 %q (%v)", where, payload, shown, err)
		}
		if utf8.Valid(payload) {
			t.Fatalf("%s: the text %q is shown as base64", where, payload)
		}
	default:
		t.Fatalf("%s: %q is shown as %q", where, payload, kind)
	}
}

// DecodeJSONExact decodes a JSON value exactly (numbers as written).
func DecodeJSONExact(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}
