package postgres

import (
	"context"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/schema"
)

// TestWrittenColumnsMatchRowStructs: every column a table declares is a
// column of its row struct and the other way round, so what the batch
// writes and what bun reads back cannot drift apart. (The schema test in
// test/integration compares the same lists with the database.)
func TestWrittenColumnsMatchRowStructs(t *testing.T) {
	tables := schema.NewTables(pgdialect.New())
	rowOf := map[string]reflect.Type{
		"wallets":               reflect.TypeFor[walletRow](),
		"lots":                  reflect.TypeFor[lotRow](),
		"transactions":          reflect.TypeFor[transactionRow](),
		"postings":              reflect.TypeFor[postingRow](),
		"holds":                 reflect.TypeFor[holdRow](),
		"idempotency_records":   reflect.TypeFor[idempotencyRow](),
		"orders":                reflect.TypeFor[orderRow](),
		"transaction_reversals": reflect.TypeFor[reversalRow](),
		"events":                reflect.TypeFor[eventRow](),
	}
	written := WrittenColumns()
	if len(written) != len(rowOf) {
		t.Fatalf("the batch writes %d tables, the test knows %d: add the new one's row struct", len(written), len(rowOf))
	}
	for name, columns := range written {
		typ, ok := rowOf[name]
		if !ok {
			t.Fatalf("no row struct known for table %s", name)
		}
		tbl := tables.Get(typ)
		if tbl.Name != name {
			t.Errorf("%s is written as table %s", tbl.Name, name)
		}
		var fields []string
		for _, f := range tbl.Fields {
			fields = append(fields, f.Name)
		}
		slices.Sort(fields)
		sorted := slices.Sorted(slices.Values(columns))
		if !slices.Equal(sorted, fields) {
			t.Errorf("table %s: the batch writes %v, the row struct has %v", name, sorted, fields)
		}
	}
}

// TestWriteStatementNumbersEveryParameter: tables with rows get one CTE
// each, their parameters numbered on from the previous table's, one per
// column; a lone table is a plain INSERT.
func TestWriteStatementNumbersEveryParameter(t *testing.T) {
	b := newBatch(context.Background(), bun.Tx{}, time.Time{})
	b.txs.rows[[16]byte{1}], b.txs.written = transactionRow{}, append(b.txs.written, [16]byte{1})
	w, _ := b.txs.write()
	lone, params := writeStatement([]tableWrite{w})
	if !strings.HasPrefix(lone, "INSERT INTO transactions (") || strings.Contains(lone, "ON CONFLICT") || len(params) != len(transactionsTable.columns) {
		t.Fatalf("lone table: %s with %d parameters", lone, len(params))
	}

	var writes []tableWrite
	for _, tbl := range b.tables {
		w, ok := tbl.write()
		if !ok {
			continue
		}
		writes = append(writes, w)
	}
	writes = append(writes, walletsTable.write([]walletRow{{}, {}}), holdsTable.write(nil))
	query, params := writeStatement(writes)
	numbers := regexp.MustCompile(`\$(\d+)::`).FindAllStringSubmatch(query, -1)
	want := len(transactionsTable.columns) + len(walletsTable.columns) + len(holdsTable.columns)
	if len(numbers) != want || len(params) != want {
		t.Fatalf("%d placeholders and %d parameters, want %d: %s", len(numbers), len(params), want, query)
	}
	for i, n := range numbers {
		if n[1] != strconv.Itoa(i+1) {
			t.Fatalf("placeholder %d is $%s: %s", i+1, n[1], query)
		}
	}
	for _, part := range []string{"WITH w0 AS (INSERT INTO transactions", "), w1 AS (INSERT INTO wallets",
		"ON CONFLICT (id) DO UPDATE SET balance = EXCLUDED.balance, held = EXCLUDED.held, debt = EXCLUDED.debt, holds_due_at = EXCLUDED.holds_due_at, updated_at = EXCLUDED.updated_at, low_balance_threshold = EXCLUDED.low_balance_threshold)",
		"::text[]::numeric[]", "::text[]::jsonb[]", " SELECT 1"} {
		if !strings.Contains(query, part) {
			t.Errorf("statement lacks %q: %s", part, query)
		}
	}
}
