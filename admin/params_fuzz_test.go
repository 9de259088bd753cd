package admin

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/spooljobs/spool/queue"
)

// deadListKeys are the list parameters of the dead list (its state is
// fixed), as its page and API take them.
var deadListKeys = slices.DeleteFunc(slices.Clone(listKeys), func(k string) bool { return k == "state" })

// parseListQuery reads a job list's query string as the jobs and dead
// pages and API do.
func parseListQuery(raw string, dead bool) (listParams, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return listParams{}, errBadRequest("malformed query string: %v", err)
	}
	keys := listKeys
	if dead {
		keys = deadListKeys
	}
	p := readParams(v, keys...)
	lp := p.list(!dead)
	return lp, p.err
}

// encodeList encodes lp as the pages' links do (listURL).
func encodeList(lp listParams, dead bool) string {
	v := lp.values()
	if dead {
		v.Del("state")
	}
	return v.Encode()
}

// FuzzListParams checks the job lists' query parameters: a query is
// either refused with a 400 or parses to a filter within the documented
// bounds, whose encoding (the pages' links) parses back to the same
// filter and encodes to the same string.
//
// Run it longer with:
//
//	go test ./admin -run '^$' -fuzz '^FuzzListParams$' -fuzztime 60s
func FuzzListParams(f *testing.F) {
	for _, s := range []string{
		"",
		"queue=mail",
		"queue=mail&kind=email.receipt&state=dead&q=order&before=42&limit=20",
		"state=pending",
		"state=",
		"state=bogus",
		"limit=50",
		"limit=500",
		"limit=501",
		"limit=0",
		"limit=-1",
		"limit=+7",
		"limit=007",
		"limit=1e3",
		"before=9223372036854775807",
		"before=9223372036854775808",
		"before=0",
		"before=-0",
		"q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
		"q=a+b&queue=x%2Fy",
		"q=%ff%fe",
		"q=" + string(make([]byte, 201)),
		"q=%00",
		"queue=a%20b",
		"queue=a//b",
		"queue=..",
		"kind=%3Cx%3E",
		"queue=a&queue=b",
		"foo=1",
		"%zz",
		"a;b",
		"q",
		"&&&",
		"=x",
		"Queue=mail",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, dead bool) {
		lp, err := parseListQuery(raw, dead)
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) || he.status != http.StatusBadRequest || he.msg == "" {
				t.Fatalf("query %q: %v is not a 400 with a message", raw, err)
			}
			return
		}
		// Bounds.
		switch {
		case lp.Limit < 1 || lp.Limit > MaxPageSize:
			t.Fatalf("query %q: limit %d outside 1..%d", raw, lp.Limit, MaxPageSize)
		case lp.Before < 0:
			t.Fatalf("query %q: before %d is negative", raw, lp.Before)
		case len(lp.Search) > MaxSearchLen || !utf8.ValidString(lp.Search):
			t.Fatalf("query %q: search %q is too long or not UTF-8", raw, lp.Search)
		case lp.Queue != "" && queue.ValidName(lp.Queue) != nil:
			t.Fatalf("query %q: queue %q is not a valid name", raw, lp.Queue)
		case lp.Kind != "" && queue.ValidName(lp.Kind) != nil:
			t.Fatalf("query %q: kind %q is not a valid name", raw, lp.Kind)
		case dead && lp.State != queue.StateDead:
			t.Fatalf("query %q: the dead list has state %q", raw, lp.State)
		case !dead && lp.State != "" && !lp.State.Valid():
			t.Fatalf("query %q: state %q is not a state", raw, lp.State)
		}
		if f := lp.filter(); f.Limit != lp.Limit+1 || f.BeforeID != lp.Before || f.Queue != lp.Queue ||
			f.Kind != lp.Kind || f.State != lp.State || f.Search != lp.Search || !f.OmitPayload {
			t.Fatalf("query %q: filter %+v does not carry %+v", raw, f, lp)
		}
		// Round trip.
		enc := encodeList(lp, dead)
		back, err := parseListQuery(enc, dead)
		if err != nil {
			t.Fatalf("query %q parses to %+v, whose encoding %q is refused: %v", raw, lp, enc, err)
		}
		if back != lp {
			t.Fatalf("query %q parses to %+v; its encoding %q parses to %+v", raw, lp, enc, back)
		}
		if again := encodeList(back, dead); again != enc {
			t.Fatalf("query %q: encoding %q, then %q", raw, enc, again)
		}
	})
}
