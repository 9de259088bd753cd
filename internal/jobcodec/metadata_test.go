package jobcodec_test

import (
	"encoding/json"
	"testing"

	"github.com/spooljobs/spool/internal/jobcodec"
)

// EncodeMetadata writes what json.Marshal writes, byte for byte: escapes,
// HTML characters, invalid UTF-8, U+2028 and U+2029, key order.
func FuzzEncodeMetadataIsJSONMarshal(f *testing.F) {
	for _, seed := range [][2]string{
		{"spool.topic", "orders.created"},
		{"", ""},
		{"a\"b\\c", "<script>&amp;</script>"},
		{"\x00\x01\x1f\b\f\n\r\t", "\x7f é ü 日本 🎉"},
		{"bad\xffutf8\xc3", "\u2028\u2029\xe2\x80"},
		{"Zz", "zZ"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, k, v string) {
		for _, m := range []map[string]string{
			{k: v},
			{k: v, v: k, "spool.seq": "17", "spool.subscription": k + v},
		} {
			want, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := jobcodec.EncodeMetadata(m)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Fatalf("EncodeMetadata(%q) = %s, json.Marshal %s", m, got, want)
			}
		}
	})
}

func BenchmarkEncodeMetadata(b *testing.B) {
	m := map[string]string{"spool.topic": "orders.created", "spool.seq": "10245", "spool.event_id": "10245", "spool.subscription": "payment", "tenant": "acme"}
	for b.Loop() {
		if _, err := jobcodec.EncodeMetadata(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONMarshalMetadata(b *testing.B) {
	m := map[string]string{"spool.topic": "orders.created", "spool.seq": "10245", "spool.event_id": "10245", "spool.subscription": "payment", "tenant": "acme"}
	for b.Loop() {
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}
