package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/schema"
)

// The statements that write a batch take each column as one array and turn
// the arrays back into rows with unnest. bun inlines values into the SQL
// text, so a multi-row VALUES list would make PostgreSQL parse, analyse and
// plan every value of every row, which on the benchmark machine was a third
// of its CPU per spend; with arrays the statement is the same size for one
// row or a hundred, and only the array literals grow.

func upsertWallets(db bun.IDB, rows []walletRow) schema.QueryAppender {
	if len(rows) == 0 {
		return nil
	}
	var c struct {
		id, tenant           []uuid.UUID
		account              []string
		balance, held        []decimal.Decimal
		holdsDueAt           []*time.Time
		createdAt, updatedAt []time.Time
	}
	for _, r := range rows {
		c.id, c.tenant, c.account = append(c.id, r.ID), append(c.tenant, r.TenantID), append(c.account, r.AccountID)
		c.balance, c.held, c.holdsDueAt = append(c.balance, r.Balance), append(c.held, r.Held), append(c.holdsDueAt, r.HoldsDueAt)
		c.createdAt, c.updatedAt = append(c.createdAt, r.CreatedAt), append(c.updatedAt, r.UpdatedAt)
	}
	return db.NewRaw(`INSERT INTO wallets (id, tenant_id, account_id, balance, held, holds_due_at, created_at, updated_at)
		SELECT * FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::numeric[], ?::numeric[], ?::timestamptz[], ?::timestamptz[], ?::timestamptz[])
		ON CONFLICT (id) DO UPDATE SET balance = EXCLUDED.balance, held = EXCLUDED.held,
			holds_due_at = EXCLUDED.holds_due_at, updated_at = EXCLUDED.updated_at`,
		pgdialect.Array(c.id), pgdialect.Array(c.tenant), pgdialect.Array(c.account), pgdialect.Array(c.balance),
		pgdialect.Array(c.held), pgdialect.Array(c.holdsDueAt), pgdialect.Array(c.createdAt), pgdialect.Array(c.updatedAt))
}

func upsertLots(db bun.IDB, rows []lotRow) schema.QueryAppender {
	if len(rows) == 0 {
		return nil
	}
	var c struct {
		id, wallet              []uuid.UUID
		source                  []string
		amount, remaining, held []decimal.Decimal
		priority                []int
		expiresAt               []*time.Time
		createdAt               []time.Time
	}
	for _, r := range rows {
		c.id, c.wallet, c.source = append(c.id, r.ID), append(c.wallet, r.WalletID), append(c.source, r.Source)
		c.amount, c.remaining, c.held = append(c.amount, r.Amount), append(c.remaining, r.Remaining), append(c.held, r.Held)
		c.priority, c.expiresAt, c.createdAt = append(c.priority, r.Priority), append(c.expiresAt, r.ExpiresAt), append(c.createdAt, r.CreatedAt)
	}
	return db.NewRaw(`INSERT INTO lots (id, wallet_id, source, amount, remaining, held, priority, expires_at, created_at)
		SELECT * FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::numeric[], ?::numeric[], ?::numeric[], ?::int[], ?::timestamptz[], ?::timestamptz[])
		ON CONFLICT (id) DO UPDATE SET remaining = EXCLUDED.remaining, held = EXCLUDED.held`,
		pgdialect.Array(c.id), pgdialect.Array(c.wallet), pgdialect.Array(c.source), pgdialect.Array(c.amount),
		pgdialect.Array(c.remaining), pgdialect.Array(c.held), pgdialect.Array(c.priority), pgdialect.Array(c.expiresAt),
		pgdialect.Array(c.createdAt))
}

func insertTransactions(db bun.IDB, rows []transactionRow) schema.QueryAppender {
	if len(rows) == 0 {
		return nil
	}
	var c struct {
		id, tenant, wallet             []uuid.UUID
		account, typ, reason, metadata []string
		amount, balanceAfter           []decimal.Decimal
		hold                           []*string
		createdAt                      []time.Time
	}
	for _, r := range rows {
		c.id, c.tenant, c.wallet = append(c.id, r.ID), append(c.tenant, r.TenantID), append(c.wallet, r.WalletID)
		c.account, c.typ, c.reason = append(c.account, r.AccountID), append(c.typ, r.Type), append(c.reason, r.Reason)
		c.metadata, c.hold = append(c.metadata, jsonText(r.Metadata)), append(c.hold, uuidText(r.HoldID))
		c.amount, c.balanceAfter, c.createdAt = append(c.amount, r.Amount), append(c.balanceAfter, r.BalanceAfter), append(c.createdAt, r.CreatedAt)
	}
	return db.NewRaw(`INSERT INTO transactions (id, tenant_id, wallet_id, account_id, type, amount, balance_after, hold_id, reason, metadata, created_at)
		SELECT * FROM unnest(?::uuid[], ?::uuid[], ?::uuid[], ?::text[], ?::text[], ?::numeric[], ?::numeric[], ?::uuid[], ?::text[], ?::jsonb[], ?::timestamptz[])`,
		pgdialect.Array(c.id), pgdialect.Array(c.tenant), pgdialect.Array(c.wallet), pgdialect.Array(c.account),
		pgdialect.Array(c.typ), pgdialect.Array(c.amount), pgdialect.Array(c.balanceAfter), pgdialect.Array(c.hold),
		pgdialect.Array(c.reason), pgdialect.Array(c.metadata), pgdialect.Array(c.createdAt))
}

// insertPostings inserts postings in one statement: the postings_balanced
// trigger checks once per statement that each transaction's postings balance,
// so every transaction's postings must be in the same statement.
func insertPostings(db bun.IDB, rows []postingRow) schema.QueryAppender {
	if len(rows) == 0 {
		return nil
	}
	var c struct {
		tx, tenant          []uuid.UUID
		seq                 []int16
		wallet, lot, system []*string
		amount              []decimal.Decimal
	}
	for _, r := range rows {
		c.tx, c.tenant, c.seq = append(c.tx, r.TransactionID), append(c.tenant, r.TenantID), append(c.seq, r.Seq)
		c.wallet, c.lot, c.system = append(c.wallet, uuidText(r.WalletID)), append(c.lot, uuidText(r.LotID)), append(c.system, r.SystemAccount)
		c.amount = append(c.amount, r.Amount)
	}
	return db.NewRaw(`INSERT INTO postings (transaction_id, seq, tenant_id, wallet_id, lot_id, system_account, amount)
		SELECT * FROM unnest(?::uuid[], ?::int2[], ?::uuid[], ?::uuid[], ?::uuid[], ?::text[], ?::numeric[])`,
		pgdialect.Array(c.tx), pgdialect.Array(c.seq), pgdialect.Array(c.tenant), pgdialect.Array(c.wallet),
		pgdialect.Array(c.lot), pgdialect.Array(c.system), pgdialect.Array(c.amount))
}

func upsertHolds(db bun.IDB, rows []holdRow) schema.QueryAppender {
	if len(rows) == 0 {
		return nil
	}
	var c struct {
		id, tenant, wallet                             []uuid.UUID
		account, status, reason, metadata, allocations []string
		amount, captured                               []decimal.Decimal
		expiresAt, createdAt, updatedAt                []time.Time
	}
	for _, r := range rows {
		c.id, c.tenant, c.wallet = append(c.id, r.ID), append(c.tenant, r.TenantID), append(c.wallet, r.WalletID)
		c.account, c.status, c.reason = append(c.account, r.AccountID), append(c.status, r.Status), append(c.reason, r.Reason)
		c.metadata, c.allocations = append(c.metadata, jsonText(r.Metadata)), append(c.allocations, jsonText(r.Allocations))
		c.amount, c.captured = append(c.amount, r.Amount), append(c.captured, r.Captured)
		c.expiresAt, c.createdAt, c.updatedAt = append(c.expiresAt, r.ExpiresAt), append(c.createdAt, r.CreatedAt), append(c.updatedAt, r.UpdatedAt)
	}
	return db.NewRaw(`INSERT INTO holds (id, tenant_id, wallet_id, account_id, amount, captured, status, reason, metadata, allocations, expires_at, created_at, updated_at)
		SELECT * FROM unnest(?::uuid[], ?::uuid[], ?::uuid[], ?::text[], ?::numeric[], ?::numeric[], ?::text[], ?::text[], ?::jsonb[], ?::jsonb[], ?::timestamptz[], ?::timestamptz[], ?::timestamptz[])
		ON CONFLICT (id) DO UPDATE SET captured = EXCLUDED.captured, status = EXCLUDED.status,
			allocations = EXCLUDED.allocations, updated_at = EXCLUDED.updated_at`,
		pgdialect.Array(c.id), pgdialect.Array(c.tenant), pgdialect.Array(c.wallet), pgdialect.Array(c.account),
		pgdialect.Array(c.amount), pgdialect.Array(c.captured), pgdialect.Array(c.status), pgdialect.Array(c.reason),
		pgdialect.Array(c.metadata), pgdialect.Array(c.allocations), pgdialect.Array(c.expiresAt), pgdialect.Array(c.createdAt),
		pgdialect.Array(c.updatedAt))
}

func insertIdempotencyRecords(db bun.IDB, rows []idempotencyRow) schema.QueryAppender {
	if len(rows) == 0 {
		return nil
	}
	var c struct {
		tenant            []uuid.UUID
		key               []string
		fingerprint, body [][]byte
		status            []int
		createdAt         []time.Time
	}
	for _, r := range rows {
		c.tenant, c.key, c.fingerprint = append(c.tenant, r.TenantID), append(c.key, r.Key), append(c.fingerprint, r.Fingerprint)
		c.status, c.body, c.createdAt = append(c.status, r.Status), append(c.body, r.Body), append(c.createdAt, r.CreatedAt)
	}
	return db.NewRaw(`INSERT INTO idempotency_records (tenant_id, key, fingerprint, status, body, created_at)
		SELECT * FROM unnest(?::uuid[], ?::text[], ?::bytea[], ?::int[], ?::bytea[], ?::timestamptz[])`,
		pgdialect.Array(c.tenant), pgdialect.Array(c.key), pgdialect.Array(c.fingerprint), pgdialect.Array(c.status),
		pgdialect.Array(c.body), pgdialect.Array(c.createdAt))
}

// uuidText is an optional id as an array element: pgdialect's arrays take a
// nil string as NULL, but not a nil driver.Valuer.
func uuidText(u *uuid.UUID) *string {
	if u == nil {
		return nil
	}
	s := u.String()
	return &s
}

// jsonText encodes a jsonb column's value. Its types (string maps, lot ids
// with decimals) always encode, so a failure is a programming error.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("postgres: encode %T as JSON: %v", v, err))
	}
	return string(b)
}

// keyArrays splits (tenant, name) pairs into the two arrays that unnest
// turns back into pairs.
func keyArrays[K any](pairs []K, split func(K) (uuid.UUID, string)) (schema.QueryAppender, schema.QueryAppender) {
	tenants, names := make([]uuid.UUID, len(pairs)), make([]string, len(pairs))
	for i, p := range pairs {
		tenants[i], names[i] = split(p)
	}
	return pgdialect.Array(tenants), pgdialect.Array(names)
}
