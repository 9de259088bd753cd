// Package sqlstore is the logic spool's two SQL stores (packages sqlite
// and postgres) share around their different SQL: reading rows (Collect,
// Found, JobRow, ScanSchedule, DeadRef), the state codes of both schemas,
// listing embedded migrations, building a job list's query from a store's
// fragments, the answers of refused writes, grouping plain completions for
// one statement, gathering throughput counts and stats, lease tokens. Each
// store keeps its own SQL and its own reading of stored times; what is
// here is the same code for both, written once. Rules of the Store
// contract itself (what a settled attempt counts, which schedule fires are
// valid, why a job died) live in package queue, not here.
package sqlstore
