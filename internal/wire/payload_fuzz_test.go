package wire_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/spooljobs/spool/internal/wire"
)

// decodeExact decodes one JSON value, numbers as written.
func decodeExact(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

// FuzzPayloadJSON checks Payload, the payload in the admin API's and
// the CLI's JSON: encoded with encoding/json it is valid UTF-8, and it
// gives the payload back (the same JSON value, the same text, the same
// bytes).
//
// Run it longer with:
//
//	go test ./internal/wire -run '^$' -fuzz '^FuzzPayloadJSON$' -fuzztime 60s
func FuzzPayloadJSON(f *testing.F) {
	for _, p := range []string{
		``,
		`null`,
		`{"order": 1, "note": "<b>&</b>"}`,
		`[1, 2.50, 1e400, -0]`,
		`"\u003c\u2028"`,
		`{"bad utf8": "` + "\xff\xfe" + `"}`, // was written as JSON, which no decoder gives back
		`{"a":`,
		"plain text \x00 with a NUL",
		"\xff\xfe binary",
		"\xef\xbb\xbf{}",
	} {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		enc, v := wire.Payload(payload)
		b, err := json.Marshal(map[string]any{"payload": v})
		if err != nil {
			t.Fatalf("Payload(%q) = %s %#v, which does not encode: %v", payload, enc, v, err)
		}
		if !utf8.Valid(b) {
			t.Fatalf("Payload(%q) = %s, encoded as invalid UTF-8: %q", payload, enc, b)
		}
		var got struct{ Payload json.RawMessage }
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		switch enc {
		case "json":
			if len(payload) == 0 {
				if string(got.Payload) != "null" {
					t.Fatalf("the empty payload is %s", got.Payload)
				}
				return
			}
			if !reflect.DeepEqual(decodeExact(t, payload), decodeExact(t, got.Payload)) {
				t.Fatalf("Payload(%q) gives back the JSON %s", payload, got.Payload)
			}
		case "text":
			var s string
			if err := json.Unmarshal(got.Payload, &s); err != nil || s != string(payload) {
				t.Fatalf("Payload(%q) gives back the text %q (%v)", payload, s, err)
			}
		case "base64":
			var raw []byte
			if err := json.Unmarshal(got.Payload, &raw); err != nil || !bytes.Equal(raw, payload) {
				t.Fatalf("Payload(%q) gives back the bytes %q (%v)", payload, raw, err)
			}
		default:
			t.Fatalf("Payload(%q): encoding %q", payload, enc)
		}
	})
}
