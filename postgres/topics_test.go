package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spooljobs/spool/internal/pgtest"
	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
)

// Publishers on several hosts at once: event ids stay gap-free, each
// topic's seqs too, and a caught-up subscription receives every event
// exactly once, one created while they publish included (from the event
// after the newest at its creation, with nothing left in its backlog).
func TestPublishConcurrentHosts(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url)
	ctx := context.Background()
	var hosts []*postgres.Store
	for range 2 {
		s, err := postgres.Open(ctx, url, postgres.Options{Schema: schema, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		hosts = append(hosts, s)
	}
	now := time.Now()
	if err := hosts[0].Subscribe(ctx, nil, queue.Subscription{Name: "all", Pattern: "#", Queue: "q", Kind: "k"}, now); err != nil {
		t.Fatal(err)
	}
	const publishers, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, publishers+1)
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ev := queue.Event{Topic: fmt.Sprintf("t%d", p%2), Payload: []byte(strconv.Itoa(i))}
				if _, err := hosts[p%2].Publish(ctx, nil, now, ev, queue.NewJob{}); err != nil {
					errs <- err
					return
				}
				if p == 0 && i == each/2 {
					errs <- hosts[1].Subscribe(ctx, nil, queue.Subscription{Name: "mid", Pattern: "#", Queue: "q", Kind: "k"}, now)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	const total = publishers * each

	var ids []int64
	for _, topic := range []string{"t0", "t1"} {
		evs, err := hosts[0].Events(ctx, queue.EventFilter{Topic: topic, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range evs {
			if e.Seq != int64(i+1) {
				t.Fatalf("topic %s: event %d has seq %d", topic, i, e.Seq)
			}
			ids = append(ids, e.ID)
		}
	}
	slices.Sort(ids)
	for i, id := range ids {
		if id != int64(i+1) {
			t.Fatalf("event ids not gap-free: %v", ids)
		}
	}
	if len(ids) != total {
		t.Fatalf("%d events, want %d", len(ids), total)
	}

	subs, err := hosts[0].Subscriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range subs {
		if sub.Cursor != total || sub.Backlog != 0 {
			t.Errorf("subscription %s: cursor %d backlog %d, want %d and 0", sub.Name, sub.Cursor, sub.Backlog, total)
		}
		got := deliveredIDs(t, hosts[0], schema, sub.Name)
		if sub.Lag != len(got) || len(got) == 0 {
			t.Errorf("subscription %s: lag %d, %d jobs", sub.Name, sub.Lag, len(got))
		}
		first := total - int64(len(got)) + 1 // "all" from 1; "mid" from after its start
		for i, id := range got {
			if id != first+int64(i) {
				t.Fatalf("subscription %s: delivered events %v, want %d to %d once each", sub.Name, got, first, total)
			}
		}
	}
}

// deliveredIDs lists the event ids of the delivery jobs of subscription
// name, in order.
func deliveredIDs(t *testing.T, s *postgres.Store, schema, name string) []int64 {
	t.Helper()
	rows, err := s.DB().Query(`SELECT unique_key FROM "`+schema+`".jobs WHERE starts_with(unique_key, $1)`, queue.DeliveryKeyPrefix(name))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			t.Fatal(err)
		}
		id, err := strconv.ParseInt(strings.TrimPrefix(key, queue.DeliveryKeyPrefix(name)), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}
