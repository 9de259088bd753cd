package postgres

// STUB (helper P2 replaces this file with lease.go, settle.go and friends).

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/queue"
)

func (s *Store) Lease(ctx context.Context, p queue.LeaseParams) (queue.LeaseResult, error) {
	return queue.LeaseResult{}, errTODO
}
func (s *Store) Extend(ctx context.Context, leases []queue.LeaseRef, until time.Time) (queue.ExtendResult, error) {
	return queue.ExtendResult{}, errTODO
}
func (s *Store) Settle(ctx context.Context, tx *sql.Tx, st []queue.Settlement) ([]error, error) {
	return nil, errTODO
}
func (s *Store) Expired(ctx context.Context, now time.Time, limit int) ([]*queue.Job, error) {
	return nil, errTODO
}
func (s *Store) Stats(ctx context.Context, now time.Time) (*queue.Stats, error) { return nil, errTODO }
func (s *Store) Prune(ctx context.Context, p queue.PruneParams) (int, error)    { return 0, errTODO }
