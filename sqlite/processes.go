package sqlite

import (
	"context"
	"time"

	"github.com/spooljobs/spool/internal/sqlstore"
	"github.com/spooljobs/spool/queue"
)

var _ queue.ProcessStore = (*Store)(nil)

const sqlRecordProcess = `INSERT INTO spool_processes (id, name, host, pid, version, started_at, last_seen, expires_at, queues)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (id) DO UPDATE SET name = excluded.name, host = excluded.host, pid = excluded.pid,
    version = excluded.version, started_at = excluded.started_at, last_seen = excluded.last_seen,
    expires_at = excluded.expires_at, queues = excluded.queues`

// RecordProcess implements queue.ProcessStore with the table
// spool_processes.
func (s *Store) RecordProcess(ctx context.Context, p queue.ProcessInfo) error {
	if err := queue.ValidateProcess(p); err != nil {
		return err
	}
	qs, err := sqlstore.EncodeProcessQueues(p.Queues)
	if err != nil {
		return err
	}
	return s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		_, err := x.exec(ctx, sqlRecordProcess, p.ID, p.Name, p.Host, p.PID, p.Version,
			micros(p.StartedAt), micros(p.LastSeen), micros(p.ExpiresAt), qs)
		return err
	})
}

const sqlRemoveProcess = `DELETE FROM spool_processes WHERE id = ?`

// RemoveProcess implements queue.ProcessStore.
func (s *Store) RemoveProcess(ctx context.Context, id string) error {
	return s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		_, err := x.exec(ctx, sqlRemoveProcess, id)
		return err
	})
}

const sqlProcesses = `SELECT id, name, host, pid, version, started_at, last_seen, expires_at, queues
  FROM spool_processes WHERE expires_at >= ? ORDER BY name, id`

// Processes implements queue.ProcessStore.
func (s *Store) Processes(ctx context.Context, now time.Time) ([]queue.ProcessInfo, error) {
	rows, err := s.readDB.QueryContext(ctx, sqlProcesses, micros(now))
	if err != nil {
		return nil, mapErr(err)
	}
	ps, err := collect(rows, scanProcess)
	if err != nil {
		return nil, mapErr(err)
	}
	queue.SortProcesses(ps)
	return ps, nil
}

// scanProcess reads a row of sqlProcesses.
func scanProcess(r scanner) (queue.ProcessInfo, error) {
	var p queue.ProcessInfo
	var started, seen, expires int64
	var qs string
	if err := r.Scan(&p.ID, &p.Name, &p.Host, &p.PID, &p.Version, &started, &seen, &expires, &qs); err != nil {
		return p, err
	}
	p.StartedAt, p.LastSeen, p.ExpiresAt = time.UnixMicro(started), time.UnixMicro(seen), time.UnixMicro(expires)
	var err error
	p.Queues, err = sqlstore.DecodeProcessQueues(qs)
	return p, err
}

const sqlPruneProcesses = `DELETE FROM spool_processes WHERE expires_at < ?`

// PruneProcesses implements queue.ProcessStore.
func (s *Store) PruneProcesses(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.write(ctx, nil, func(ctx context.Context, x *xtx) error {
		res, err := x.exec(ctx, sqlPruneProcesses, micros(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
