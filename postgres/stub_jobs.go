package postgres

// STUB (helper P1 replaces this file with jobs.go and friends).

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/spooljobs/spool/queue"
)

var errTODO = errors.New("postgres: not implemented yet")

func (s *Store) Enqueue(ctx context.Context, tx *sql.Tx, now time.Time, jobs []queue.NewJob) ([]queue.EnqueueResult, error) {
	return nil, errTODO
}
func (s *Store) Get(ctx context.Context, id int64) (*queue.Job, error) { return nil, errTODO }
func (s *Store) List(ctx context.Context, f queue.ListFilter) ([]*queue.Job, error) {
	return nil, errTODO
}
func (s *Store) Cancel(ctx context.Context, tx *sql.Tx, id int64, now time.Time) (queue.State, error) {
	return "", errTODO
}
func (s *Store) RetryDead(ctx context.Context, tx *sql.Tx, f queue.DeadFilter, now time.Time) (queue.RetryDeadResult, error) {
	return queue.RetryDeadResult{}, errTODO
}
func (s *Store) Delete(ctx context.Context, tx *sql.Tx, id int64, now time.Time) error {
	return errTODO
}
func (s *Store) DeleteDead(ctx context.Context, tx *sql.Tx, f queue.DeadFilter, now time.Time) (int, error) {
	return 0, errTODO
}
func (s *Store) SetPaused(ctx context.Context, tx *sql.Tx, name string, paused bool, now time.Time) error {
	return errTODO
}
func (s *Store) SetQueueSettings(ctx context.Context, tx *sql.Tx, name string, qs queue.QueueSettings, now time.Time) error {
	return errTODO
}
func (s *Store) MarkProcessed(ctx context.Context, tx *sql.Tx, key string, now time.Time) (bool, error) {
	return false, errTODO
}
