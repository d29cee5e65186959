package postgres

import (
	"context"
	"database/sql"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

// session is what a repository talks to: a database or transaction and,
// inside a unit of work, a buffer for its writes. A use case does its reads
// first and its writes last, so buffering the writes and sending them
// together at commit saves a round trip per write; any read flushes the
// buffer first, so the statements still run in the order they were issued.
type session struct {
	db  bun.IDB
	buf *writeBuffer // nil outside a unit of work: writes run at once
}

// writeStatement is a bun query that can be rendered as SQL text.
type writeStatement interface {
	schema.QueryAppender
	Exec(ctx context.Context, dest ...any) (sql.Result, error)
}

// write runs q now, or queues it in a unit of work.
func (s session) write(ctx context.Context, q writeStatement) error {
	if s.buf == nil {
		_, err := q.Exec(ctx)
		return err
	}
	text, err := q.AppendQuery(s.buf.gen, nil)
	if err != nil {
		return err
	}
	s.buf.stmts = append(s.buf.stmts, string(text))
	return nil
}

// read flushes queued writes so the statement that follows sees them.
func (s session) read(ctx context.Context) error {
	if s.buf == nil {
		return nil
	}
	return s.buf.flush(ctx)
}

// writeBuffer holds a transaction's queued writes.
type writeBuffer struct {
	tx    bun.Tx
	gen   schema.QueryGen // renders a query with its arguments, as bun would send it
	stmts []string
}

func newWriteBuffer(tx bun.Tx) *writeBuffer {
	return &writeBuffer{tx: tx, gen: tx.NewSelect().DB().QueryGen()}
}

// flush sends every queued statement in one round trip: the simple query
// protocol runs several statements from one message, in order, stopping at
// the first error.
func (b *writeBuffer) flush(ctx context.Context) error {
	if len(b.stmts) == 0 {
		return nil
	}
	text := strings.Join(b.stmts, ";\n")
	b.stmts = b.stmts[:0]
	_, err := b.tx.Tx.ExecContext(ctx, text) // *sql.Tx: the text is final, bun must not format it again
	return translate(err, "write")
}
