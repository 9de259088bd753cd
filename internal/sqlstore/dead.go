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
