package queue_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

func TestCanonicalJSON(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"b": 1, "a": [true, null, {"d": "x", "c": 2.50}]}`, `{"a":[true,null,{"c":2.50,"d":"x"}],"b":1}`},
		{" \"<&>\" ", `"<&>"`},
		{`{"a":1,"a":2}`, `{"a":2}`},
		{`1e3`, `1e3`},
		{`"\u00e9"`, `"é"`},
	} {
		got, ok := queue.CanonicalJSON([]byte(c.in))
		require.True(t, ok, c.in)
		require.Equal(t, c.want, string(got), c.in)
	}
	for _, bad := range []string{"", "{", `{"a":1} {"b":2}`, `1 2`, "\xff", `{"a":}`} {
		_, ok := queue.CanonicalJSON([]byte(bad))
		require.False(t, ok, "%q is not one JSON value", bad)
	}
}

func TestArgsKey(t *testing.T) {
	k := queue.ArgsKey("a:b", "c", []byte(`{}`))
	require.True(t, strings.HasPrefix(k, "args:a:b@c:"), k)
	require.NotEqual(t, k, queue.ArgsKey("a", "b:c", []byte(`{}`)), "kind and queue stay apart")
	require.NotEqual(t, queue.ArgsKey("k", "q", []byte(`1`)), queue.ArgsKey("k", "q", []byte(`"1"`)))
	require.NotEqual(t, queue.ArgsKey("k", "q", []byte(`{`)), queue.ArgsKey("k", "q", []byte(`{ `)), "non-JSON compares bytes")
	require.Equal(t, queue.ArgsKey("k", "q", []byte(`{"a":1,"b":2}`)), queue.ArgsKey("k", "q", []byte(`{ "b":2, "a":1 }`)))
}

// FuzzCanonicalJSON checks that the canonical form is canonical: valid
// JSON, a fixed point, equal to the input as a value, and the same for
// the input re-encoded with its object keys in another order.
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":{"y":[1,2],"x":null}}`, `[1, 2.0, -0, 1e5]`, `"a\u0000b<>"`, `{"a":1,"a":2}`, `true`, ``, `{`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, ok := queue.CanonicalJSON(b)
		if !ok {
			return
		}
		if !json.Valid(c) {
			t.Fatalf("canonical form %q of %q is not JSON", c, b)
		}
		again, ok := queue.CanonicalJSON(c)
		if !ok || !bytes.Equal(again, c) {
			t.Fatalf("not a fixed point: %q → %q", c, again)
		}
		v1, err1 := decodeNumbers(b)
		v2, err2 := decodeNumbers(c)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(v1, v2) {
			t.Fatalf("%q and its canonical form %q differ as values", b, c)
		}
		// Keys reversed: the same canonical form. Decoded with UseNumber,
		// values re-encode with their numbers as written.
		m, isObj := v1.(map[string]any)
		if !isObj {
			return
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Sort(sort.Reverse(sort.StringSlice(keys)))
		var buf bytes.Buffer
		buf.WriteString("{ ")
		for i, k := range keys {
			if i > 0 {
				buf.WriteString(" , ")
			}
			kb, _ := json.Marshal(k)
			vb, err := json.Marshal(m[k])
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(kb)
			buf.WriteString(" : ")
			buf.Write(vb)
		}
		buf.WriteString(" }")
		c2, ok := queue.CanonicalJSON(buf.Bytes())
		if !ok || !bytes.Equal(c, c2) {
			t.Fatalf("reordered keys changed the canonical form: %q vs %q (from %q)", c, c2, buf.Bytes())
		}
	})
}

// decodeNumbers decodes one JSON value with its numbers as written.
func decodeNumbers(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

func ExampleArgsKey() {
	a := queue.ArgsKey("email.receipt", "default", []byte(`{"order": 42, "to": "a@example.com"}`))
	b := queue.ArgsKey("email.receipt", "default", []byte(`{"to":"a@example.com","order":42}`))
	fmt.Println(a == b, a[:len("args:email.receipt@default:")])
	// Output: true args:email.receipt@default:
}
