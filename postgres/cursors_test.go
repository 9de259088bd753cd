package postgres_test

// Caught-up subscriptions keep no moving cursor: Publish reads them and
// writes none of their rows, DeliverBacklog hands a subscription over to
// Publish once it reaches the newest event, and no event reaches a
// subscription twice or not at all on the way.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/postgres"
	"github.com/spooljobs/spool/queue"
)

// logDeliveries records every delivery job the store tries to insert into
// the table deliveries of its schema, in insertion order: a trigger that
// runs before the insert, so a duplicate that the jobs' unique index
// turns away is recorded too (and one whose transaction rolls back is
// not).
func logDeliveries(t *testing.T, s *postgres.Store) {
	t.Helper()
	q := `"` + s.Schema() + `"`
	for _, stmt := range []string{
		`CREATE TABLE ` + q + `.deliveries (n bigserial PRIMARY KEY, unique_key text NOT NULL)`,
		`CREATE FUNCTION ` + q + `.log_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.unique_key IS NOT NULL THEN
    INSERT INTO ` + q + `.deliveries (unique_key) VALUES (NEW.unique_key);
  END IF;
  RETURN NEW;
END $$`,
		`CREATE TRIGGER log_delivery BEFORE INSERT ON ` + q + `.jobs FOR EACH ROW EXECUTE FUNCTION ` + q + `.log_delivery()`,
	} {
		_, err := s.DB().Exec(stmt)
		require.NoError(t, err)
	}
}

// deliveries lists the event ids delivered to subscription name, in the
// order logDeliveries recorded them, duplicates included.
func deliveries(t *testing.T, s *postgres.Store, name string) []int64 {
	t.Helper()
	rows, err := s.DB().Query(`SELECT unique_key FROM "`+s.Schema()+`".deliveries WHERE starts_with(unique_key, $1) ORDER BY n`, queue.DeliveryKeyPrefix(name))
	require.NoError(t, err)
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var key string
		require.NoError(t, rows.Scan(&key))
		id, err := strconv.ParseInt(strings.TrimPrefix(key, queue.DeliveryKeyPrefix(name)), 10, 64)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	return ids
}

// idRange is the ids from first to last, in order.
func idRange(first, last int64) []int64 {
	var ids []int64
	for id := first; id <= last; id++ {
		ids = append(ids, id)
	}
	return ids
}

// subVersions reads each subscription row's version: its xmin (the
// transaction that wrote it) and ctid (where it lies), which any UPDATE of
// the row changes.
func subVersions(t *testing.T, s *postgres.Store) map[string]string {
	t.Helper()
	rows, err := s.DB().Query(`SELECT name, xmin::text || ' ' || ctid::text FROM "` + s.Schema() + `".subscriptions`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, v string
		require.NoError(t, rows.Scan(&name, &v))
		out[name] = v
	}
	require.NoError(t, rows.Err())
	return out
}

// subInfo returns the SubscriptionInfo of subscription name.
func subInfo(t *testing.T, s *postgres.Store, name string) queue.SubscriptionInfo {
	t.Helper()
	subs, err := s.Subscriptions(context.Background())
	require.NoError(t, err)
	for _, sub := range subs {
		if sub.Name == name {
			return sub
		}
	}
	t.Fatalf("no subscription %q", name)
	return queue.SubscriptionInfo{}
}

// Publish writes no subscription row: with three caught-up subscriptions,
// 50 publishes leave their rows as they were, and each subscription still
// receives all 50 events once, in seq order, and reports the newest event
// as its cursor.
func TestPublishWritesNoSubscriptionRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, postgres.Options{MaxConns: 2})
	logDeliveries(t, s)
	now := time.Now()
	names := []string{"stock", "payment", "email"}
	for _, sub := range []queue.Subscription{
		{Name: "stock", Pattern: "orders.created", Queue: "stock", Kind: "k"},
		{Name: "payment", Pattern: "orders.*", Queue: "payment", Kind: "k"},
		{Name: "email", Pattern: "orders.#", Queue: "mail", Kind: "k"},
	} {
		require.NoError(t, s.Subscribe(ctx, nil, sub, now))
	}
	before := subVersions(t, s)
	require.Len(t, before, 3)

	const events = 50
	for i := range events {
		res, err := s.Publish(ctx, nil, now, queue.Event{Topic: "orders.created", Payload: []byte(strconv.Itoa(i))}, queue.NewJob{})
		require.NoError(t, err)
		require.Equal(t, 3, res.Jobs)
	}

	require.Equal(t, before, subVersions(t, s), "publishes rewrote subscription rows")
	evs, err := s.Events(ctx, queue.EventFilter{Topic: "orders.created", Limit: 1000})
	require.NoError(t, err)
	require.Len(t, evs, events)
	bySeq := make([]int64, events)
	for i, e := range evs {
		require.Equal(t, int64(i+1), e.Seq)
		bySeq[i] = e.ID
	}
	for _, name := range names {
		require.Equal(t, bySeq, deliveries(t, s, name), "subscription %s: events once each, in seq order", name)
		info := subInfo(t, s, name)
		require.Equal(t, bySeq[events-1], info.Cursor, "subscription %s: cursor", name)
		require.Zero(t, info.Backlog, "subscription %s: backlog", name)
		require.Equal(t, events, info.Lag, "subscription %s: lag", name)
	}
}

// A subscription that starts in the past catches up through DeliverBacklog
// while several goroutines publish, and from then on receives each new
// publish from Publish: every event once, none missing, in id order. The
// publishers go on past the moment it caught up, so that the hand-over
// happens among them.
func TestBacklogCatchesUpWhilePublishing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openStore(t, postgres.Options{MaxConns: 8})
	logDeliveries(t, s)
	now := time.Now()
	const before = 300
	for i := range before {
		_, err := s.Publish(ctx, nil, now, queue.Event{Topic: fmt.Sprintf("t%d", i%3), Payload: []byte{}}, queue.NewJob{})
		require.NoError(t, err)
	}
	require.NoError(t, s.Subscribe(ctx, nil, queue.Subscription{Name: "past", Pattern: "#", Queue: "q", Kind: "k", From: queue.StartAt{Beginning: true}}, now))
	require.NoError(t, s.Subscribe(ctx, nil, queue.Subscription{Name: "now", Pattern: "#", Queue: "q", Kind: "k"}, now))
	require.Equal(t, before, subInfo(t, s, "past").Backlog)

	// Publishers run until "past" has caught up and then 20 more each
	// (at most 1000 each, should it never catch up while they run).
	const publishers, after, most = 4, 20, 1000
	caughtUp := make(chan struct{})
	var published, whileBehind atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, publishers+1)
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			left := after
			for range most {
				select {
				case <-caughtUp:
					left--
				default:
					whileBehind.Add(1)
				}
				if left < 0 {
					return
				}
				if _, err := s.Publish(ctx, nil, now, queue.Event{Topic: fmt.Sprintf("t%d", p%3), Payload: []byte{}}, queue.NewJob{}); err != nil {
					errs <- err
					return
				}
				published.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(caughtUp)
		for {
			n, err := s.DeliverBacklog(ctx, now, 25, queue.NewJob{})
			if err != nil {
				errs <- err
				return
			}
			if n > 0 {
				continue
			}
			subs, err := s.Subscriptions(ctx)
			if err != nil {
				errs <- err
				return
			}
			for _, sub := range subs {
				if sub.Name == "past" && sub.Backlog == 0 {
					return
				}
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	n, err := s.DeliverBacklog(ctx, now, 1000, queue.NewJob{})
	require.NoError(t, err)
	require.Zero(t, n, "nothing left behind")

	last := before + published.Load()
	t.Logf("%d events published while catching up, %d after", whileBehind.Load(), published.Load()-whileBehind.Load())
	require.Equal(t, idRange(1, last), deliveries(t, s, "past"), "past: every event once, in order")
	require.Equal(t, idRange(before+1, last), deliveries(t, s, "now"), "now: every event since it began once, in order")
	for _, name := range []string{"past", "now"} {
		info := subInfo(t, s, name)
		require.Equal(t, last, info.Cursor, "subscription %s: cursor", name)
		require.Zero(t, info.Backlog, "subscription %s: backlog", name)
	}
}

// A publisher in a caller's REPEATABLE READ transaction whose snapshot
// predates a subscription becoming caught up (created from now, or
// brought up to date by DeliverBacklog) cannot see that subscription.
// Its publish must then fail as a serialization failure, for the caller
// to run again, rather than commit an event that the subscription never
// receives.
func TestPublishRepeatableReadMissesNoSubscription(t *testing.T) {
	t.Parallel()
	cases := map[string]func(ctx context.Context, s *postgres.Store, now time.Time) error{
		"subscribed from now": func(ctx context.Context, s *postgres.Store, now time.Time) error {
			return s.Subscribe(ctx, nil, queue.Subscription{Name: "late", Pattern: "#", Queue: "q", Kind: "k"}, now)
		},
		"caught up by DeliverBacklog": func(ctx context.Context, s *postgres.Store, now time.Time) error {
			_, err := s.DeliverBacklog(ctx, now, 1000, queue.NewJob{})
			return err
		},
	}
	for name, catchUp := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := openStore(t, postgres.Options{MaxConns: 4})
			logDeliveries(t, s)
			now := time.Now()
			_, err := s.Publish(ctx, nil, now, queue.Event{Topic: "t", Payload: []byte{}}, queue.NewJob{})
			require.NoError(t, err)
			if name != "subscribed from now" {
				require.NoError(t, s.Subscribe(ctx, nil, queue.Subscription{Name: "late", Pattern: "#", Queue: "q", Kind: "k", From: queue.StartAt{Beginning: true}}, now))
			}

			tx, err := s.DB().BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
			require.NoError(t, err)
			defer tx.Rollback()
			var one int
			require.NoError(t, tx.QueryRowContext(ctx, `SELECT 1`).Scan(&one)) // the snapshot
			require.NoError(t, catchUp(ctx, s, now))
			require.Equal(t, int64(1), subInfo(t, s, "late").Cursor)

			_, err = s.Publish(ctx, tx, now, queue.Event{Topic: "t", Payload: []byte{}}, queue.NewJob{})
			if err == nil {
				require.NoError(t, tx.Commit())
				_, err := s.DeliverBacklog(ctx, now, 1000, queue.NewJob{})
				require.NoError(t, err)
				want := idRange(1, 2)
				if name == "subscribed from now" {
					want = idRange(2, 2)
				}
				require.Equal(t, want, deliveries(t, s, "late"), "the event published in the old snapshot reached the subscription")
				return
			}
			var pe *pgconn.PgError
			require.True(t, errors.As(err, &pe), "%v", err)
			require.Equal(t, "40001", pe.Code, "a serialization failure: %v", err)
		})
	}
}
