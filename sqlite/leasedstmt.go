package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
)

// leasedStmt is sqlLeased prepared on the writer's driver connection, for
// queryLeased: preparing it for every lease cost about as much as reading
// back 40 of its jobs. Only the writer goroutine uses it, inside
// sql.Conn.Raw on that connection.
//
// It is kept only on the store's own write pool (Open), whose one
// connection lives as long as the store, and closed when the writer stops
// (close), before the pool closes that connection. On an app's pool
// (New) each lease prepares its own and closes it.
type leasedStmt struct {
	keep bool        // the store owns its write pool
	dc   any         // the driver connection st was prepared on
	st   driver.Stmt // nil: none yet
}

// stmt returns sqlLeased prepared on dc, and done, which the caller calls
// when it has read the rows, with the error that ended the read.
func (l *leasedStmt) stmt(ctx context.Context, dc any) (driver.StmtQueryContext, func(error) error, error) {
	if l.st != nil && l.dc == dc {
		return l.st.(driver.StmtQueryContext), l.after, nil
	}
	// Another connection: the statement kept for the old one is dropped.
	// SQLite keeps a closed connection's handle open until its statements
	// are finalised, so this would hold that handle for the process's
	// life; it does not happen today, as the store's write pool keeps its
	// one connection for the store's life (closeLeased finalises the
	// statement when the writer stops).
	l.dc, l.st = nil, nil
	p, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, nil, fmt.Errorf("sqlite: the driver's connection (%T) cannot prepare", dc)
	}
	st, err := p.PrepareContext(ctx, sqlLeased)
	if err != nil {
		return nil, nil, err
	}
	q, ok := st.(driver.StmtQueryContext)
	if !ok {
		st.Close()
		return nil, nil, fmt.Errorf("sqlite: the driver's statement (%T) cannot query", st)
	}
	if !l.keep {
		return q, func(error) error { return st.Close() }, nil
	}
	l.dc, l.st = dc, st
	return q, l.after, nil
}

// after closes the kept statement when a read failed: its connection may
// be going.
func (l *leasedStmt) after(err error) error {
	if err == nil || l.st == nil {
		return nil
	}
	cerr := l.st.Close()
	l.dc, l.st = nil, nil
	return cerr
}

// close closes the kept statement, on conn's driver connection if it is
// the one the statement was prepared on.
func (l *leasedStmt) close(conn interface{ Raw(func(any) error) error }) {
	if l.st == nil {
		return
	}
	conn.Raw(func(dc any) error {
		if dc == l.dc {
			l.st.Close()
		}
		return nil
	})
	l.dc, l.st = nil, nil
}
