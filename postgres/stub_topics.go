package postgres

// STUB (helper P3 replaces this file with topics.go and friends).

import (
	"context"
	"database/sql"
	"time"

	"github.com/spooljobs/spool/queue"
)

func (s *Store) Publish(ctx context.Context, tx *sql.Tx, now time.Time, ev queue.Event, defaults queue.NewJob) (queue.PublishResult, error) {
	return queue.PublishResult{}, errTODO
}
func (s *Store) Subscribe(ctx context.Context, tx *sql.Tx, sub queue.Subscription, now time.Time) error {
	return errTODO
}
func (s *Store) UpdateSubscription(ctx context.Context, tx *sql.Tx, sub queue.Subscription, now time.Time) error {
	return errTODO
}
func (s *Store) Unsubscribe(ctx context.Context, tx *sql.Tx, name string) error { return errTODO }
func (s *Store) Subscriptions(ctx context.Context) ([]queue.SubscriptionInfo, error) {
	return nil, errTODO
}
func (s *Store) Topics(ctx context.Context) ([]queue.TopicInfo, error) { return nil, errTODO }
func (s *Store) Events(ctx context.Context, f queue.EventFilter) ([]queue.EventRecord, error) {
	return nil, errTODO
}
func (s *Store) DeliverBacklog(ctx context.Context, now time.Time, limit int, defaults queue.NewJob) (int, error) {
	return 0, errTODO
}
func (s *Store) Replay(ctx context.Context, tx *sql.Tx, subscription string, f queue.EventFilter, now time.Time, defaults queue.NewJob) (int, error) {
	return 0, errTODO
}
func (s *Store) SetRetention(ctx context.Context, tx *sql.Tx, topic string, r queue.Retention, now time.Time) error {
	return errTODO
}
func (s *Store) PruneEvents(ctx context.Context, now time.Time, limit int) (int, error) {
	return 0, errTODO
}
