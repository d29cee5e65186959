package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
)

// The statements on the hot paths (the batch of a unit of work, coalesced
// wallet reads) are prepared: their text never changes, each column of rows
// travels as one array parameter, and unnest turns the arrays back into
// rows. bun writes values into the SQL text, so each of its statements is
// new to PostgreSQL, which parses, analyses and plans it again: at low load
// that was nearly half of PostgreSQL's CPU per spend (perf). A prepared
// statement is planned once per connection. These go through bun's
// database/sql handle with pgx's statement cache, and bun still scans the
// rows they return into the same row structs.
//
// A prepared statement keeps the plan it was first given until the table's
// statistics change, so lookups are written as one index probe per key
// (CROSS JOIN LATERAL ... OFFSET 0, which the planner does not flatten into a
// join): on a table never analysed, PostgreSQL assumes at least ten pages and
// picks the probe, which stays right as the table grows, where a join
// planned on a small table scanned 60,000 rows per batch a minute later.
// (A table analysed while empty is planned as empty until autovacuum
// analyses it again, a few dozen rows later.)

// sqlHandle is db's database/sql handle.
func sqlHandle(db bun.IDB) interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
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

// queryPrepared runs a prepared query and scans its rows into dest with bun.
func queryPrepared(ctx context.Context, db bun.IDB, dest any, query string, args ...any) error {
	rows, err := sqlHandle(db).QueryContext(ctx, query, append([]any{pgx.QueryExecModeCacheStatement}, args...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return db.NewSelect().DB().ScanRows(ctx, rows, dest)
}

func execPrepared(ctx context.Context, db bun.IDB, query string, args ...any) error {
	_, err := sqlHandle(db).ExecContext(ctx, query, append([]any{pgx.QueryExecModeCacheStatement}, args...)...)
	return err
}

// lockWallets locks the wallets named by account or by one of their holds,
// in id order (the one global order every locker follows, so lockers never
// deadlock each other), and returns them.
func lockWallets(ctx context.Context, db bun.IDB, accounts []walletKey, holds []application.HoldKey) ([]walletRow, error) {
	if len(accounts) == 0 && len(holds) == 0 {
		return nil, nil
	}
	var rows []walletRow
	err := queryPrepared(ctx, db, &rows, `
		SELECT w.* FROM (
			SELECT DISTINCT id FROM (
				SELECT x.id FROM unnest($1::uuid[], $2::text[]) AS k(tenant_id, account_id) CROSS JOIN LATERAL (
					SELECT id FROM wallets WHERE tenant_id = k.tenant_id AND account_id = k.account_id OFFSET 0) x
				UNION ALL
				SELECT x.wallet_id FROM unnest($3::uuid[], $4::uuid[]) AS k(tenant_id, id) CROSS JOIN LATERAL (
					SELECT wallet_id FROM holds WHERE id = k.id AND tenant_id = k.tenant_id OFFSET 0) x) named
			ORDER BY id) ids
		CROSS JOIN LATERAL (SELECT * FROM wallets WHERE id = ids.id FOR UPDATE) w`,
		column(accounts, func(k walletKey) [16]byte { return k.tenant }), column(accounts, func(k walletKey) string { return k.account }),
		column(holds, func(k application.HoldKey) [16]byte { return k.Tenant }),
		column(holds, func(k application.HoldKey) [16]byte { return k.Hold }))
	return rows, translate(err, "lock wallets")
}

// selectOpenLots reads the lots with credits left of the wallets.
func selectOpenLots(ctx context.Context, db bun.IDB, wallets []uuid.UUID) ([]lotRow, error) {
	var rows []lotRow
	err := queryPrepared(ctx, db, &rows, `
		SELECT l.* FROM unnest($1::uuid[]) AS k(wallet_id) CROSS JOIN LATERAL (
			SELECT * FROM lots WHERE wallet_id = k.wallet_id AND open OFFSET 0) l`, column(wallets, ids))
	return rows, translate(err, "read lots")
}

// selectWalletsWithLots reads wallets by account with their open lots, in one
// statement, so each balance and its lots come from the same snapshot. keys
// must not repeat.
func selectWalletsWithLots(ctx context.Context, db bun.IDB, keys []walletKey) ([]walletWithLotRow, error) {
	var rows []walletWithLotRow
	err := queryPrepared(ctx, db, &rows, `
		SELECT w.*, l.id AS lot_id, l.source AS lot_source, l.amount AS lot_amount, l.remaining AS lot_remaining,
		       l.held AS lot_held, l.priority AS lot_priority, l.expires_at AS lot_expires_at, l.created_at AS lot_created_at
		FROM unnest($1::uuid[], $2::text[]) AS k(tenant_id, account_id)
		CROSS JOIN LATERAL (SELECT * FROM wallets WHERE tenant_id = k.tenant_id AND account_id = k.account_id OFFSET 0) w
		LEFT JOIN LATERAL (SELECT * FROM lots WHERE wallet_id = w.id AND open OFFSET 0) l ON true`,
		column(keys, func(k walletKey) [16]byte { return k.tenant }), column(keys, func(k walletKey) string { return k.account }))
	return rows, translate(err, "read wallets")
}

// selectHolds reads the holds named by (tenant, id), and every open hold of
// the given wallets, in id order; a hold that is both comes twice.
func selectHolds(ctx context.Context, db bun.IDB, named []application.HoldKey, openOf []uuid.UUID) ([]holdRow, error) {
	var rows []holdRow
	err := queryPrepared(ctx, db, &rows, `
		SELECT * FROM (
			SELECT h.* FROM unnest($1::uuid[], $2::uuid[]) AS k(tenant_id, id) CROSS JOIN LATERAL (
				SELECT * FROM holds WHERE id = k.id AND tenant_id = k.tenant_id OFFSET 0) h
			UNION ALL
			SELECT h.* FROM unnest($3::uuid[]) AS k(wallet_id) CROSS JOIN LATERAL (
				SELECT * FROM holds WHERE wallet_id = k.wallet_id AND open OFFSET 0) h) holds
		ORDER BY id`,
		column(named, func(k application.HoldKey) [16]byte { return k.Tenant }),
		column(named, func(k application.HoldKey) [16]byte { return k.Hold }), column(openOf, ids))
	return rows, translate(err, "read holds")
}

// selectTakenKeys returns which of the keys have a record.
func selectTakenKeys(ctx context.Context, db bun.IDB, keys []application.IdempotencyKey) ([]idempotencyRow, error) {
	var rows []idempotencyRow
	err := queryPrepared(ctx, db, &rows, `
		SELECT r.tenant_id, r.key FROM unnest($1::uuid[], $2::text[]) AS k(tenant_id, key) CROSS JOIN LATERAL (
			SELECT tenant_id, key FROM idempotency_records WHERE tenant_id = k.tenant_id AND key = k.key OFFSET 0) r`,
		column(keys, func(k application.IdempotencyKey) [16]byte { return k.Tenant }),
		column(keys, func(k application.IdempotencyKey) string { return k.Key }))
	return rows, translate(err, "read idempotency keys")
}

// rowsToWrite is what one write stores.
type rowsToWrite struct {
	wallets  []walletRow // inserted, or their caches updated
	lots     []lotRow    // inserted, or what is left and held updated
	txs      []transactionRow
	postings []postingRow
	holds    []holdRow // inserted, or their state updated
	records  []idempotencyRow
}

// writeRowsSQL stores rowsToWrite in one statement, one data-modifying
// CTE per table. Foreign keys and the postings_balanced trigger are
// checked when the statement ends, when every CTE has run; each
// transaction's postings are all in it, as the trigger requires.
const writeRowsSQL = `
WITH wallets_written AS (
	INSERT INTO wallets (id, tenant_id, account_id, balance, held, holds_due_at, created_at, updated_at)
	SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]::numeric[], $5::text[]::numeric[], $6::timestamptz[], $7::timestamptz[], $8::timestamptz[])
	ON CONFLICT (id) DO UPDATE SET balance = EXCLUDED.balance, held = EXCLUDED.held,
		holds_due_at = EXCLUDED.holds_due_at, updated_at = EXCLUDED.updated_at
	RETURNING 1
), lots_written AS (
	INSERT INTO lots (id, wallet_id, source, amount, remaining, held, priority, expires_at, created_at)
	SELECT * FROM unnest($9::uuid[], $10::uuid[], $11::text[], $12::text[]::numeric[], $13::text[]::numeric[], $14::text[]::numeric[], $15::int[], $16::timestamptz[], $17::timestamptz[])
	ON CONFLICT (id) DO UPDATE SET remaining = EXCLUDED.remaining, held = EXCLUDED.held
	RETURNING 1
), transactions_written AS (
	INSERT INTO transactions (id, tenant_id, wallet_id, account_id, type, amount, balance_after, hold_id, reason, metadata, created_at)
	SELECT * FROM unnest($18::uuid[], $19::uuid[], $20::uuid[], $21::text[], $22::text[], $23::text[]::numeric[], $24::text[]::numeric[], $25::uuid[], $26::text[], $27::text[]::jsonb[], $28::timestamptz[])
	RETURNING 1
), postings_written AS (
	INSERT INTO postings (transaction_id, seq, tenant_id, wallet_id, lot_id, system_account, amount)
	SELECT * FROM unnest($29::uuid[], $30::int2[], $31::uuid[], $32::uuid[], $33::uuid[], $34::text[], $35::text[]::numeric[])
	RETURNING 1
), holds_written AS (
	INSERT INTO holds (id, tenant_id, wallet_id, account_id, amount, captured, status, reason, metadata, allocations, expires_at, created_at, updated_at)
	SELECT * FROM unnest($36::uuid[], $37::uuid[], $38::uuid[], $39::text[], $40::text[]::numeric[], $41::text[]::numeric[], $42::text[], $43::text[], $44::text[]::jsonb[], $45::text[]::jsonb[], $46::timestamptz[], $47::timestamptz[], $48::timestamptz[])
	ON CONFLICT (id) DO UPDATE SET captured = EXCLUDED.captured, status = EXCLUDED.status,
		allocations = EXCLUDED.allocations, updated_at = EXCLUDED.updated_at
	RETURNING 1
), records_written AS (
	INSERT INTO idempotency_records (tenant_id, key, fingerprint, status, body, created_at)
	SELECT * FROM unnest($49::uuid[], $50::text[], $51::bytea[], $52::int[], $53::bytea[], $54::timestamptz[])
	RETURNING 1
)
SELECT (SELECT count(*) FROM wallets_written) + (SELECT count(*) FROM lots_written)
	+ (SELECT count(*) FROM transactions_written) + (SELECT count(*) FROM postings_written)
	+ (SELECT count(*) FROM holds_written) + (SELECT count(*) FROM records_written)`

// writeRows stores w in one round trip. Rows of each table go in the order
// given: callers sort new wallets and records by key, so that transactions
// inserting the same ones wait for each other rather than deadlock.
func writeRows(ctx context.Context, db bun.IDB, op string, w rowsToWrite) error {
	wl, lt, tx, po, ho, re := w.wallets, w.lots, w.txs, w.postings, w.holds, w.records
	err := execPrepared(ctx, db, writeRowsSQL,
		column(wl, func(r walletRow) [16]byte { return r.ID }), column(wl, func(r walletRow) [16]byte { return r.TenantID }),
		column(wl, func(r walletRow) string { return r.AccountID }), column(wl, func(r walletRow) string { return r.Balance.String() }),
		column(wl, func(r walletRow) string { return r.Held.String() }), column(wl, func(r walletRow) *time.Time { return r.HoldsDueAt }),
		column(wl, func(r walletRow) time.Time { return r.CreatedAt }), column(wl, func(r walletRow) time.Time { return r.UpdatedAt }),

		column(lt, func(r lotRow) [16]byte { return r.ID }), column(lt, func(r lotRow) [16]byte { return r.WalletID }),
		column(lt, func(r lotRow) string { return r.Source }), column(lt, func(r lotRow) string { return r.Amount.String() }),
		column(lt, func(r lotRow) string { return r.Remaining.String() }), column(lt, func(r lotRow) string { return r.Held.String() }),
		column(lt, func(r lotRow) int { return r.Priority }), column(lt, func(r lotRow) *time.Time { return r.ExpiresAt }),
		column(lt, func(r lotRow) time.Time { return r.CreatedAt }),

		column(tx, func(r transactionRow) [16]byte { return r.ID }), column(tx, func(r transactionRow) [16]byte { return r.TenantID }),
		column(tx, func(r transactionRow) [16]byte { return r.WalletID }), column(tx, func(r transactionRow) string { return r.AccountID }),
		column(tx, func(r transactionRow) string { return r.Type }), column(tx, func(r transactionRow) string { return r.Amount.String() }),
		column(tx, func(r transactionRow) string { return r.BalanceAfter.String() }), column(tx, func(r transactionRow) pgtype.UUID { return nullUUID(r.HoldID) }),
		column(tx, func(r transactionRow) string { return r.Reason }), column(tx, func(r transactionRow) string { return jsonText(r.Metadata) }),
		column(tx, func(r transactionRow) time.Time { return r.CreatedAt }),

		column(po, func(r postingRow) [16]byte { return r.TransactionID }), column(po, func(r postingRow) int16 { return r.Seq }),
		column(po, func(r postingRow) [16]byte { return r.TenantID }), column(po, func(r postingRow) pgtype.UUID { return nullUUID(r.WalletID) }),
		column(po, func(r postingRow) pgtype.UUID { return nullUUID(r.LotID) }), column(po, func(r postingRow) *string { return r.SystemAccount }),
		column(po, func(r postingRow) string { return r.Amount.String() }),

		column(ho, func(r holdRow) [16]byte { return r.ID }), column(ho, func(r holdRow) [16]byte { return r.TenantID }),
		column(ho, func(r holdRow) [16]byte { return r.WalletID }), column(ho, func(r holdRow) string { return r.AccountID }),
		column(ho, func(r holdRow) string { return r.Amount.String() }), column(ho, func(r holdRow) string { return r.Captured.String() }),
		column(ho, func(r holdRow) string { return r.Status }), column(ho, func(r holdRow) string { return r.Reason }),
		column(ho, func(r holdRow) string { return jsonText(r.Metadata) }), column(ho, func(r holdRow) string { return jsonText(r.Allocations) }),
		column(ho, func(r holdRow) time.Time { return r.ExpiresAt }), column(ho, func(r holdRow) time.Time { return r.CreatedAt }),
		column(ho, func(r holdRow) time.Time { return r.UpdatedAt }),

		column(re, func(r idempotencyRow) [16]byte { return r.TenantID }), column(re, func(r idempotencyRow) string { return r.Key }),
		column(re, func(r idempotencyRow) []byte { return r.Fingerprint }), column(re, func(r idempotencyRow) int { return r.Status }),
		column(re, func(r idempotencyRow) []byte { return r.Body }), column(re, func(r idempotencyRow) time.Time { return r.CreatedAt }))
	return translate(err, op)
}

func ids(u uuid.UUID) [16]byte { return u }

// nullUUID is an optional id as pgx encodes it without a driver.Valuer.
func nullUUID(u *uuid.UUID) pgtype.UUID {
	if u == nil {
		return pgtype.UUID{}
	}
	return pgtype.UUID{Bytes: *u, Valid: true}
}

// column is one field of every row, as an array parameter. Fields are of
// types pgx encodes natively ([16]byte for ids, strings for amounts, cast in
// SQL): a driver.Valuer per element costs a failed encode plan each. It is
// never nil:
// pgx sends a nil slice as NULL, which unnest reads as no rows but which
// would pad a shorter column with NULLs beside longer ones.
func column[R, V any](rows []R, field func(R) V) []V {
	out := make([]V, len(rows))
	for i, r := range rows {
		out[i] = field(r)
	}
	return out
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
