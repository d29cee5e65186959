package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"
)

// A batch stores everything its units of work changed in one statement:
// one data-modifying CTE per table with rows to store, each inserting its
// rows from one array parameter per column (unnest). What a table stores is
// declared once, below, as a table of columns; the statement is built from
// those declarations, and a test compares them with the row structs and with
// the database's own columns, so none can drift from the other.
//
// Foreign keys and the postings_balanced trigger are checked when the
// statement ends, when every CTE has run; each transaction's postings are all
// in it, as the trigger requires.

// column is one column of rows of type R as the write statement stores it.
type column[R any] interface {
	name() string
	// param is the column's values for rows, as one array parameter of a type
	// pgx encodes natively: a driver.Valuer per element costs a failed
	// encode plan each.
	param(rows []R) any
	// sqlType is the column's type; numeric and jsonb values travel as text.
	sqlType() string
	// updated says an existing row's value is overwritten (ON CONFLICT ... DO UPDATE).
	updated() bool
}

type col[R, V any] struct {
	n, typ string
	upd    bool
	value  func(R) V
}

func (c col[R, V]) name() string       { return c.n }
func (c col[R, V]) param(rows []R) any { return values(rows, c.value) }
func (c col[R, V]) sqlType() string    { return c.typ }
func (c col[R, V]) updated() bool      { return c.upd }

// fixed is a column written when its row is inserted and never changed.
func fixed[R, V any](name, sqlType string, value func(R) V) column[R] {
	return col[R, V]{n: name, typ: sqlType, value: value}
}

// updated is a column that a later write of the same row overwrites.
func updated[R, V any](name, sqlType string, value func(R) V) column[R] {
	return col[R, V]{n: name, typ: sqlType, upd: true, value: value}
}

// table is how rows of type R are stored.
type table[R any] struct {
	name string
	// key is the conflict target of rows that may exist already (their
	// updated columns are overwritten); empty for rows only ever inserted.
	key     []string
	columns []column[R]
	// order, when set, is the order rows are written in: rows that
	// concurrent batches may both insert (a new wallet, an idempotency key)
	// go in one global order, so the batches wait for each other rather
	// than deadlock.
	order func(a, b R) int
}

// columnNames lists the table's columns in statement order.
func (t table[R]) columnNames() []string {
	names := make([]string, len(t.columns))
	for i, c := range t.columns {
		names[i] = c.name()
	}
	return names
}

// tableWrite is one table's part of a write statement.
type tableWrite struct {
	table string
	// sql is the INSERT, its parameters numbered from first.
	sql    func(first int) string
	params []any
}

// write stores rows in the table.
func (t table[R]) write(rows []R) tableWrite {
	params := make([]any, len(t.columns))
	for i, c := range t.columns {
		params[i] = c.param(rows)
	}
	return tableWrite{table: t.name, params: params, sql: func(first int) string {
		var sb strings.Builder
		fmt.Fprintf(&sb, "INSERT INTO %s (%s) SELECT * FROM unnest(", t.name, strings.Join(t.columnNames(), ", "))
		for i, c := range t.columns {
			if i > 0 {
				sb.WriteString(", ")
			}
			switch typ := c.sqlType(); typ {
			case "numeric", "jsonb":
				fmt.Fprintf(&sb, "$%d::text[]::%s[]", first+i, typ)
			default:
				fmt.Fprintf(&sb, "$%d::%s[]", first+i, typ)
			}
		}
		sb.WriteString(")")
		if len(t.key) > 0 {
			var set []string
			for _, c := range t.columns {
				if c.updated() {
					set = append(set, c.name()+" = EXCLUDED."+c.name())
				}
			}
			fmt.Fprintf(&sb, " ON CONFLICT (%s) DO UPDATE SET %s", strings.Join(t.key, ", "), strings.Join(set, ", "))
		}
		return sb.String()
	}}
}

// writeStatement joins table writes into one statement. Its text depends
// only on which tables have rows, so PostgreSQL plans each shape once per
// connection (statements.go).
func writeStatement(writes []tableWrite) (string, []any) {
	if len(writes) == 1 {
		return writes[0].sql(1), writes[0].params
	}
	var sb strings.Builder
	var params []any
	for i, w := range writes {
		if i == 0 {
			sb.WriteString("WITH ")
		} else {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "w%d AS (%s)", i, w.sql(len(params)+1))
		params = append(params, w.params...)
	}
	sb.WriteString(" SELECT 1")
	return sb.String(), params
}

// writeStatements are the statement texts built so far, by the names of
// the tables written, in order: a handful of shapes recur on every batch.
var writeStatements sync.Map

// execWrites runs the writes in one round trip.
func execWrites(ctx context.Context, db bun.IDB, op string, writes []tableWrite) error {
	if len(writes) == 0 {
		return nil
	}
	var shape strings.Builder
	for _, w := range writes {
		shape.WriteString(w.table)
		shape.WriteByte(' ')
	}
	query, ok := writeStatements.Load(shape.String())
	if !ok {
		text, _ := writeStatement(writes)
		query, _ = writeStatements.LoadOrStore(shape.String(), text)
	}
	params := make([]any, 0, 64)
	for _, w := range writes {
		params = append(params, w.params...)
	}
	return translate(execPrepared(ctx, db, query.(string), params...), op)
}

// The tables a unit of work writes.

var walletsTable = table[walletRow]{
	name: "wallets",
	key:  []string{"id"},
	columns: []column[walletRow]{
		fixed("id", "uuid", func(r walletRow) [16]byte { return r.ID }),
		fixed("tenant_id", "uuid", func(r walletRow) [16]byte { return r.TenantID }),
		fixed("account_id", "text", func(r walletRow) string { return r.AccountID }),
		updated("balance", "numeric", func(r walletRow) string { return r.Balance.String() }),
		updated("held", "numeric", func(r walletRow) string { return r.Held.String() }),
		updated("debt", "numeric", func(r walletRow) string { return r.Debt.String() }),
		updated("holds_due_at", "timestamptz", func(r walletRow) *time.Time { return r.HoldsDueAt }),
		fixed("created_at", "timestamptz", func(r walletRow) time.Time { return r.CreatedAt }),
		updated("updated_at", "timestamptz", func(r walletRow) time.Time { return r.UpdatedAt }),
		updated("low_balance_threshold", "numeric", func(r walletRow) *string { return decimalText(r.LowBalanceThreshold) }),
	},
	order: func(a, b walletRow) int { return compareWalletKeys(walletKeyOf(a), walletKeyOf(b)) },
}

var lotsTable = table[lotRow]{
	name: "lots",
	key:  []string{"id"},
	columns: []column[lotRow]{
		fixed("id", "uuid", func(r lotRow) [16]byte { return r.ID }),
		fixed("wallet_id", "uuid", func(r lotRow) [16]byte { return r.WalletID }),
		fixed("source", "text", func(r lotRow) string { return r.Source }),
		fixed("amount", "numeric", func(r lotRow) string { return r.Amount.String() }),
		updated("remaining", "numeric", func(r lotRow) string { return r.Remaining.String() }),
		updated("held", "numeric", func(r lotRow) string { return r.Held.String() }),
		fixed("priority", "int", func(r lotRow) int { return r.Priority }),
		fixed("expires_at", "timestamptz", func(r lotRow) *time.Time { return r.ExpiresAt }),
		fixed("created_at", "timestamptz", func(r lotRow) time.Time { return r.CreatedAt }),
		fixed("funding_kind", "text", func(r lotRow) *string { return r.FundingKind }),
		fixed("funding_ref", "text", func(r lotRow) *string { return r.FundingRef }),
	},
}

var transactionsTable = table[transactionRow]{
	name: "transactions",
	columns: []column[transactionRow]{
		fixed("id", "uuid", func(r transactionRow) [16]byte { return r.ID }),
		fixed("tenant_id", "uuid", func(r transactionRow) [16]byte { return r.TenantID }),
		fixed("wallet_id", "uuid", func(r transactionRow) [16]byte { return r.WalletID }),
		fixed("account_id", "text", func(r transactionRow) string { return r.AccountID }),
		fixed("type", "text", func(r transactionRow) string { return r.Type }),
		fixed("amount", "numeric", func(r transactionRow) string { return r.Amount.String() }),
		fixed("balance_after", "numeric", func(r transactionRow) string { return r.BalanceAfter.String() }),
		fixed("hold_id", "uuid", func(r transactionRow) pgtype.UUID { return nullUUID(r.HoldID) }),
		fixed("reason", "text", func(r transactionRow) string { return r.Reason }),
		fixed("metadata", "jsonb", func(r transactionRow) string { return jsonText(r.Metadata) }),
		fixed("created_at", "timestamptz", func(r transactionRow) time.Time { return r.CreatedAt }),
	},
}

var postingsTable = table[postingRow]{
	name: "postings",
	columns: []column[postingRow]{
		fixed("transaction_id", "uuid", func(r postingRow) [16]byte { return r.TransactionID }),
		fixed("seq", "int2", func(r postingRow) int16 { return r.Seq }),
		fixed("tenant_id", "uuid", func(r postingRow) [16]byte { return r.TenantID }),
		fixed("wallet_id", "uuid", func(r postingRow) pgtype.UUID { return nullUUID(r.WalletID) }),
		fixed("lot_id", "uuid", func(r postingRow) pgtype.UUID { return nullUUID(r.LotID) }),
		fixed("system_account", "text", func(r postingRow) *string { return r.SystemAccount }),
		fixed("amount", "numeric", func(r postingRow) string { return r.Amount.String() }),
	},
}

var reversalsTable = table[reversalRow]{
	name: "transaction_reversals",
	columns: []column[reversalRow]{
		fixed("transaction_id", "uuid", func(r reversalRow) [16]byte { return r.TransactionID }),
		fixed("original_id", "uuid", func(r reversalRow) [16]byte { return r.OriginalID }),
		fixed("tenant_id", "uuid", func(r reversalRow) [16]byte { return r.TenantID }),
		fixed("amount", "numeric", func(r reversalRow) string { return r.Amount.String() }),
	},
}

var holdsTable = table[holdRow]{
	name: "holds",
	key:  []string{"id"},
	columns: []column[holdRow]{
		fixed("id", "uuid", func(r holdRow) [16]byte { return r.ID }),
		fixed("tenant_id", "uuid", func(r holdRow) [16]byte { return r.TenantID }),
		fixed("wallet_id", "uuid", func(r holdRow) [16]byte { return r.WalletID }),
		fixed("account_id", "text", func(r holdRow) string { return r.AccountID }),
		fixed("amount", "numeric", func(r holdRow) string { return r.Amount.String() }),
		updated("captured", "numeric", func(r holdRow) string { return r.Captured.String() }),
		updated("status", "text", func(r holdRow) string { return r.Status }),
		fixed("reason", "text", func(r holdRow) string { return r.Reason }),
		fixed("metadata", "jsonb", func(r holdRow) string { return jsonText(r.Metadata) }),
		updated("allocations", "jsonb", func(r holdRow) string { return jsonText(r.Allocations) }),
		updated("expires_at", "timestamptz", func(r holdRow) time.Time { return r.ExpiresAt }), // extend moves it
		fixed("created_at", "timestamptz", func(r holdRow) time.Time { return r.CreatedAt }),
		updated("updated_at", "timestamptz", func(r holdRow) time.Time { return r.UpdatedAt }),
	},
}

var eventsTable = table[eventRow]{
	name: "events",
	columns: []column[eventRow]{
		fixed("id", "uuid", func(r eventRow) [16]byte { return r.ID }),
		fixed("tenant_id", "uuid", func(r eventRow) [16]byte { return r.TenantID }),
		fixed("account_id", "text", func(r eventRow) string { return r.AccountID }),
		fixed("type", "text", func(r eventRow) string { return r.Type }),
		fixed("data", "jsonb", func(r eventRow) string { return string(r.Data) }),
		fixed("occurred_at", "timestamptz", func(r eventRow) time.Time { return r.OccurredAt }),
	},
}

var idempotencyTable = table[idempotencyRow]{
	name: "idempotency_records",
	columns: []column[idempotencyRow]{
		fixed("tenant_id", "uuid", func(r idempotencyRow) [16]byte { return r.TenantID }),
		fixed("key", "text", func(r idempotencyRow) string { return r.Key }),
		fixed("fingerprint", "bytea", func(r idempotencyRow) []byte { return r.Fingerprint }),
		fixed("status", "int", func(r idempotencyRow) int { return r.Status }),
		fixed("body", "bytea", func(r idempotencyRow) []byte { return r.Body }),
		fixed("created_at", "timestamptz", func(r idempotencyRow) time.Time { return r.CreatedAt }),
	},
	order: func(a, b idempotencyRow) int { return compareKeys(a.TenantID, a.Key, b.TenantID, b.Key) },
}

// WrittenColumns lists, by table, the columns a batch stores: the schema
// test compares them with the row structs and with the database's columns.
func WrittenColumns() map[string][]string {
	out := map[string][]string{}
	for _, t := range newBatch(context.Background(), bun.Tx{}, time.Time{}).tables {
		name, columns := t.columns()
		out[name] = columns
	}
	return out
}

// values is one field of every row, as an array parameter. It is never nil:
// pgx sends a nil slice as NULL, which unnest reads as no rows but which
// would pad a shorter column with NULLs beside longer ones.
func values[R, V any](rows []R, field func(R) V) []V {
	out := make([]V, len(rows))
	for i, r := range rows {
		out[i] = field(r)
	}
	return out
}

func ids(u uuid.UUID) [16]byte { return u }

// decimalText is an optional numeric as the write statement sends it.
func decimalText(d *decimal.Decimal) *string {
	if d == nil {
		return nil
	}
	s := d.String()
	return &s
}

// nullUUID is an optional id as pgx encodes it without a driver.Valuer.
func nullUUID(u *uuid.UUID) pgtype.UUID {
	if u == nil {
		return pgtype.UUID{}
	}
	return pgtype.UUID{Bytes: *u, Valid: true}
}
