package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/spooljobs/spool/queue"
)

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// Schema is the PostgreSQL schema that holds spool's tables, created
	// when missing. Defaults to "spool". Two apps sharing a database use
	// two schemas.
	Schema string
	// MaxConns caps the connections Open's pool keeps (not New's, which is
	// the app's). Defaults to 10.
	MaxConns int
	// NoListen turns off LISTEN/NOTIFY wake-ups, for connection poolers in
	// transaction mode: workers then find jobs by polling
	// (worker.Options.PollInterval). Writes still send notifications,
	// which cost nothing when nobody listens.
	NoListen bool
	// NoMigrate opens without creating or migrating anything, for tools
	// that must not change the database (the spool command): a schema that
	// is missing or of another version is a *queue.SchemaError.
	NoMigrate bool
	// ListenURL is the connection string of the connection that LISTENs
	// for wake-ups, for a store made by New (Open listens on its own URL).
	// Empty: a store made by New does not listen, and its workers poll.
	ListenURL string
	// Logger receives the store's log records. Defaults to
	// queue.DefaultLogger(): warnings and errors to slog.Default(), Info
	// and Debug dropped. slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger

	clock clockHooks // tests' host clock and re-measure ticker (export_test.go)
}

// Store is the PostgreSQL backend of spool. It implements queue.Store,
// queue.TopicStore, queue.ScheduleStore, queue.Notifier and queue.Leader
// (leader.go), and is safe for concurrent use by many goroutines and many
// hosts.
type Store struct {
	opts   Options
	logger *slog.Logger
	db     *sql.DB
	owned  bool // Open made db and Close closes it
	schema string
	id     string // spool.meta's store_id: tells this database from others (foreigntx.go)

	sqlMu sync.Mutex
	sqls  map[string]string // query text as written → with the schema's name

	clock *clock // the offset of the database's clock (clock.go)

	wakeups  queue.Wakeups
	listen   *listener    // nil with NoListen
	sender   *wakeSender  // the notifications of the store's own writes
	batch    *batcher     // group commit of small enqueues (enqueuebatch.go)
	pubGroup *groupWriter // group commit of publishes (groupwrite.go)
	// metricSlot is the store's row of each minute's throughput counters
	// (migrations/0005_metrics_slots.sql, 0007_metrics_kinds.sql).
	metricSlot int16
	instance   string // tells this store's notifications from others'
	// limited holds the queues whose last lease here found a MaxRunning
	// or RateLimit: their leases skip the fast path, which would find
	// nothing (lease.go). A lease that finds no limit forgets the queue.
	limited sync.Map

	closeOnce sync.Once
	closeErr  error
}

var (
	_ queue.Store         = (*Store)(nil)
	_ queue.TopicStore    = (*Store)(nil)
	_ queue.ScheduleStore = (*Store)(nil)
	_ queue.Notifier      = (*Store)(nil)
)

var validSchema = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func (o *Options) defaults() error {
	if o.Schema == "" {
		o.Schema = "spool"
	}
	if !validSchema.MatchString(o.Schema) {
		return fmt.Errorf("%w: postgres: Options.Schema %q: use 1 to 63 lower-case letters, digits and _, not starting with a digit", queue.ErrInvalidArgument, o.Schema)
	}
	switch {
	case o.MaxConns == 0:
		o.MaxConns = 10
	case o.MaxConns < 0:
		return fmt.Errorf("%w: postgres: Options.MaxConns %d is negative", queue.ErrInvalidArgument, o.MaxConns)
	}
	if o.Logger == nil {
		o.Logger = queue.DefaultLogger()
	}
	return nil
}

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string, as pgx accepts), creates or migrates spool's schema
// and returns the store. Close closes its connections.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(opts.MaxConns)
	s, err := newStore(ctx, db, true, url, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// New returns a store on db, a pool the app opened with pgx's stdlib
// driver (sql.Open("pgx", url), or stdlib.OpenDBFromPool), migrating
// spool's schema. Close leaves db open. Wake-ups need a connection string
// to LISTEN on, which a *sql.DB does not tell: set Options.ListenURL, or
// workers find jobs by polling.
func New(ctx context.Context, db *sql.DB, opts Options) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: postgres: db is nil", queue.ErrInvalidArgument)
	}
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	return newStore(ctx, db, false, opts.ListenURL, opts)
}

func newStore(ctx context.Context, db *sql.DB, owned bool, url string, opts Options) (*Store, error) {
	s := &Store{opts: opts, logger: opts.Logger, db: db, owned: owned, schema: opts.Schema, sqls: map[string]string{}, instance: newStoreID()}
	if err := db.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", mapErr(err))
	}
	s.clock = newClock(db, s.logger, opts.clock)
	if err := s.clock.update(ctx, true); err != nil {
		return nil, err
	}
	migrate := s.migrate
	if opts.NoMigrate {
		migrate = s.checkSchema
	}
	if err := migrate(ctx); err != nil {
		return nil, err
	}
	if err := s.db.QueryRowContext(ctx, s.sql(`SELECT store_id FROM spool.meta WHERE id = 1`)).Scan(&s.id); err != nil {
		return nil, fmt.Errorf("postgres: read the store id: %w", mapErr(err))
	}
	if !opts.NoListen && url != "" {
		l, err := s.startListener(ctx, url)
		if err != nil {
			return nil, err
		}
		s.listen = l
	}
	s.sender = newWakeSender(s)
	s.batch = newBatcher(s, flushers)
	s.metricSlot = int16(rand.IntN(metricSlots))
	s.pubGroup = newGroupWriter(s)
	s.clock.start()
	return s, nil
}

// metricSlots is how many rows of throughput counters each minute and
// queue may have: stores pick one at random, so that hosts seldom share.
const metricSlots = 16

// newStoreID is a fresh identity for spool.meta.
func newStoreID() string { return uuid.NewString() }

// DB returns the store's database handle. Begin the transactions for the
// Tx twins on it (or on the app's own pool given to New).
func (s *Store) DB() *sql.DB { return s.db }

// Schema returns the schema that holds spool's tables.
func (s *Store) Schema() string { return s.schema }

// Close stops the store's listener and its clock's re-measure and, for a
// store made by Open, closes its connections.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.clock.close()
		if s.listen != nil {
			s.listen.close()
		}
		if s.batch != nil {
			s.batch.close()
		}
		if s.pubGroup != nil {
			s.pubGroup.close()
		}
		if s.sender != nil {
			s.sender.close()
		}
		if s.owned {
			s.closeErr = s.db.Close()
		}
	})
	return s.closeErr
}

// sql returns query with its tables in the store's schema: queries are
// written with the schema "spool" ("FROM spool.jobs") and the name is
// replaced once per query text. Query text must not hold "spool." anywhere
// else (string literals included): values are bound, never written in.
func (s *Store) sql(query string) string {
	if s.schema == "spool" {
		return query
	}
	s.sqlMu.Lock()
	defer s.sqlMu.Unlock()
	if q, ok := s.sqls[query]; ok {
		return q
	}
	q := schemaRef.ReplaceAllString(query, `"`+s.schema+`".`)
	s.sqls[query] = q
	return q
}

// schemaRef matches the schema name where queries name a table.
var schemaRef = regexp.MustCompile(`\bspool\.`)
