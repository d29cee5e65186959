package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

// execAll sends the statements (nil ones skipped) as one message in
// PostgreSQL's simple query protocol: one round trip, run in order, stopping
// at the first error. bun renders each statement with its values inlined.
func execAll(ctx context.Context, db bun.IDB, op string, qs ...schema.QueryAppender) error {
	var text []string
	for _, q := range qs {
		if q == nil {
			continue
		}
		b, err := q.AppendQuery(db.NewSelect().DB().QueryGen(), nil)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		text = append(text, string(b))
	}
	if len(text) == 0 {
		return nil
	}
	_, err := rawExecer(db).ExecContext(ctx, strings.Join(text, ";\n"))
	return translate(err, op)
}

// rawExecer is db's database/sql handle: the text is final, and bun must not
// read question marks in it as placeholders.
func rawExecer(db bun.IDB) interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
} {
	switch d := db.(type) {
	case bun.Tx:
		return d.Tx
	case *bun.DB:
		return d.DB
	case bun.Conn:
		return d.Conn
	}
	panic(fmt.Sprintf("postgres: unexpected bun.IDB %T", db))
}
