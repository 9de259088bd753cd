package sqlstore

import "database/sql"

// DeadRef is a dead job as a store's query of the dead jobs a
// queue.DeadFilter names reads it: id, queue, order_key, unique_key.
type DeadRef struct {
	ID        int64
	Queue     string
	OrderKey  sql.NullString
	UniqueKey sql.NullString
}

// ScanDeadRef reads a DeadRef.
func ScanDeadRef(r Scanner) (DeadRef, error) {
	var d DeadRef
	err := r.Scan(&d.ID, &d.Queue, &d.OrderKey, &d.UniqueKey)
	return d, err
}

// Expiring is a waiting job past its ExpiresAt, as a store's expiry query
// reads it: id, order_key, expires_at (as stored).
type Expiring struct {
	ID        int64
	OrderKey  sql.NullString
	ExpiresAt int64
}

// ScanExpiring reads an Expiring.
func ScanExpiring(r Scanner) (Expiring, error) {
	var e Expiring
	err := r.Scan(&e.ID, &e.OrderKey, &e.ExpiresAt)
	return e, err
}
