package spooltest

import (
	"encoding/json"
	"testing"
)

// FuzzSameJSON: a payload is the same JSON value as itself, as its
// re-encoding (other spacing, key order, number spelling) and as args
// decoded from it; a payload that is not JSON matches nothing; 1 and 1.0
// are the same number, 1 and 2 are not.
func FuzzSameJSON(f *testing.F) {
	for _, s := range []string{`{"order_id":7,"email":"a"}`, `[1, 2.0, 3e0]`, `{"b":{"c":[null,true]},"a":"x"}`,
		`12345678901234567890`, `1.5e300`, `"\u00e9"`, `{}`, `not json`, `{"a":1}{"a":1}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		same, err := sameJSON(json.RawMessage(payload), payload)
		v, derr := decodeJSON(payload) // numbers kept exact (json.Number)
		if derr != nil {
			if same {
				t.Fatalf("%q is not JSON but matched", payload)
			}
			return
		}
		if err != nil || !same {
			t.Fatalf("%q does not match itself: %v", payload, err)
		}
		again, err := json.Marshal(v)
		if err != nil {
			return
		}
		if same, _ := sameJSON(json.RawMessage(again), payload); !same {
			t.Fatalf("%q re-encoded as %s does not match", payload, again)
		}
		if same, _ := sameJSON(v, payload); !same {
			t.Fatalf("%q decoded to %#v does not match", payload, v)
		}
	})
}

func TestSameJSONNumbers(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{`{"n":1}`, `{"n":1.0}`, true},
		{`{"n":1}`, `{"n":1e0}`, true},
		{`{"n":1}`, `{"n":2}`, false},
		{`10000000000000001`, `10000000000000000`, false},
		{`[1,2]`, `[2,1]`, false},
		{`{"a":1,"b":2}`, `{"b":2,"a":1}`, true},
		{`{"a":null}`, `{}`, false},
	} {
		got, err := sameJSON(json.RawMessage(c.a), []byte(c.b))
		if err != nil || got != c.same {
			t.Errorf("sameJSON(%s, %s) = %v, %v; want %v", c.a, c.b, got, err, c.same)
		}
	}
}
