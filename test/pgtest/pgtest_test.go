//go:build integration

package pgtest_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/creditd/creditd/test/pgtest"
)

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m, func(ctx context.Context, dsn string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `CREATE TABLE widgets (id bigint PRIMARY KEY, name text NOT NULL)`)
		return err
	}))
}

// Two parallel tests each write to their own clone; neither must see the
// other's row, and both must find the migrated table.
func TestClonesAreIsolated(t *testing.T) {
	for _, name := range []string{"a", "b"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close(context.Background()) })

			if _, err := conn.Exec(ctx, `INSERT INTO widgets (id, name) VALUES (1, $1)`, name); err != nil {
				t.Fatal(err)
			}
			var names []string
			rows, err := conn.Query(ctx, `SELECT name FROM widgets`)
			if err != nil {
				t.Fatal(err)
			}
			names, err = pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			if len(names) != 1 || names[0] != name {
				t.Fatalf("widgets = %v, want only [%s]", names, name)
			}
		})
	}
}

func TestDatabasesHaveDistinctNames(t *testing.T) {
	ctx := context.Background()
	seen := map[string]bool{}
	for range 3 {
		conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		var db string
		err = conn.QueryRow(ctx, `SELECT current_database()`).Scan(&db)
		conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if seen[db] {
			t.Fatalf("database %s handed out twice", db)
		}
		seen[db] = true
	}
}
