package admin

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The lists ordered by name (topics, subscriptions, queues, schedules) are
// paged like the job lists: at most "limit" entries (DefaultPageSize, at
// most MaxPageSize) after the name "after", with a link to the next page.
// The stores list them whole, so a page bounds what is rendered and sent,
// not what is read.

// namePage is what a page of such a list shows about its place: the
// positions of its entries (from 1), and the links to the first and the
// next page ("" when there is none).
type namePage struct {
	From, To, Total   int
	FirstURL, NextURL string
}

// maxAfterLen bounds the "after" parameter: longer than any name.
const maxAfterLen = 1024

// pageParams reads the paging parameters of a list by name: the name
// after which the page starts (key) and "limit".
func (p *params) pageParams(key string) (after string, limit int) {
	after = p.str(key)
	if len(after) > maxAfterLen {
		p.err = errBadRequest("parameter %q is longer than %d bytes", key, maxAfterLen)
	}
	return after, int(p.int("limit", 1, MaxPageSize, DefaultPageSize))
}

// pageByName sorts list by name (byte order, as Go compares; a store may
// order by a collation of its own) and returns the entries after the name
// after, at most limit, their place, and the name to continue after ("":
// this is the last page). The caller sets the place's URLs (links).
func pageByName[T any](list []T, name func(T) string, after string, limit int) ([]T, namePage, string) {
	cmp := func(a, b T) int { return strings.Compare(name(a), name(b)) }
	if !slices.IsSortedFunc(list, cmp) {
		slices.SortStableFunc(list, cmp)
	}
	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(list, after, func(t T, a string) int { return strings.Compare(name(t), a) })
		if start < len(list) && name(list[start]) == after {
			start++
		}
	}
	end := min(len(list), start+limit)
	pg := namePage{From: start + 1, To: end, Total: len(list)}
	next := ""
	if end < len(list) {
		next = name(list[end-1])
	}
	return list[start:end], pg, next
}

// links sets the place's links: to the first page when this is not it,
// and to the page after next when there is one.
func (pg *namePage) links(after, next string, url func(after string) string) {
	if after != "" {
		pg.FirstURL = url("")
	}
	if next != "" {
		pg.NextURL = url(next)
	}
}

// pageURL is the URL of path with the query v plus a page's "after" (key)
// and "limit" when not the default.
func (h *Handler) pageURL(path string, v url.Values, key, after string, limit int) string {
	q := url.Values{}
	for k, vs := range v {
		q[k] = vs
	}
	if after != "" {
		q.Set(key, after)
	}
	if limit != DefaultPageSize {
		q.Set("limit", strconv.Itoa(limit))
	}
	if len(q) == 0 {
		return h.url(path)
	}
	return h.url(path + "?" + q.Encode())
}
