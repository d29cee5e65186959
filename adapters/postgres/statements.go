package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
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
		values(accounts, func(k walletKey) [16]byte { return k.tenant }), values(accounts, func(k walletKey) string { return k.account }),
		values(holds, func(k application.HoldKey) [16]byte { return k.Tenant }),
		values(holds, func(k application.HoldKey) [16]byte { return k.Hold }))
	return rows, translate(err, "lock wallets")
}

// selectOpenLots reads the lots with credits left of the wallets.
func selectOpenLots(ctx context.Context, db bun.IDB, wallets []uuid.UUID) ([]lotRow, error) {
	var rows []lotRow
	err := queryPrepared(ctx, db, &rows, `
		SELECT l.* FROM unnest($1::uuid[]) AS k(wallet_id) CROSS JOIN LATERAL (
			SELECT * FROM lots WHERE wallet_id = k.wallet_id AND open OFFSET 0) l`, values(wallets, ids))
	return rows, translate(err, "read lots")
}

// selectWalletsWithLots reads wallets by account with their open lots, in one
// statement, so each balance and its lots come from the same snapshot. keys
// must not repeat.
func selectWalletsWithLots(ctx context.Context, db bun.IDB, keys []walletKey) ([]walletWithLotRow, error) {
	var rows []walletWithLotRow
	err := queryPrepared(ctx, db, &rows, `
		SELECT w.*, l.id AS lot_id, l.source AS lot_source, l.amount AS lot_amount, l.remaining AS lot_remaining,
		       l.held AS lot_held, l.priority AS lot_priority, l.expires_at AS lot_expires_at, l.created_at AS lot_created_at,
		       l.funding_kind AS lot_funding_kind, l.funding_ref AS lot_funding_ref
		FROM unnest($1::uuid[], $2::text[]) AS k(tenant_id, account_id)
		CROSS JOIN LATERAL (SELECT * FROM wallets WHERE tenant_id = k.tenant_id AND account_id = k.account_id OFFSET 0) w
		LEFT JOIN LATERAL (SELECT * FROM lots WHERE wallet_id = w.id AND open OFFSET 0) l ON true`,
		values(keys, func(k walletKey) [16]byte { return k.tenant }), values(keys, func(k walletKey) string { return k.account }))
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
		values(named, func(k application.HoldKey) [16]byte { return k.Tenant }),
		values(named, func(k application.HoldKey) [16]byte { return k.Hold }), values(openOf, ids))
	return rows, translate(err, "read holds")
}

// holdWithCaptures is a hold the batch read and, if the batch named it, its
// captures: read in the same statement, so capturing, releasing or
// extending a hold costs no round trip more than before holds showed them.
type holdWithCaptures struct {
	holdRow  `bun:",extend"`
	Named    bool          `bun:"named"`
	Captures []captureJSON `bun:"captures,type:jsonb"`
}

// captureJSON is one CAPTURE transaction, as jsonb_build_object renders it.
type captureJSON struct {
	ID        uuid.UUID         `json:"id"`
	Amount    decimal.Decimal   `json:"amount"`
	Reason    string            `json:"reason"`
	Metadata  map[string]string `json:"metadata"`
	CreatedAt time.Time         `json:"created_at"`
}

// selectHoldsWithCaptures is selectHolds for a batch: the named holds come
// with their captures (a lookup in transactions_by_hold each).
func selectHoldsWithCaptures(ctx context.Context, db bun.IDB, named []application.HoldKey, openOf []uuid.UUID) ([]holdWithCaptures, error) {
	var rows []holdWithCaptures
	err := queryPrepared(ctx, db, &rows, `
		SELECT * FROM (
			SELECT h.*, true AS named, (
				SELECT coalesce(jsonb_agg(jsonb_build_object('id', t.id, 'amount', t.amount, 'reason', t.reason,
					'metadata', t.metadata, 'created_at', t.created_at)), '[]'::jsonb)
				FROM transactions t WHERE t.hold_id = h.id AND t.type = 'CAPTURE') AS captures
			FROM unnest($1::uuid[], $2::uuid[]) AS k(tenant_id, id) CROSS JOIN LATERAL (
				SELECT * FROM holds WHERE id = k.id AND tenant_id = k.tenant_id OFFSET 0) h
			UNION ALL
			SELECT h.*, false, NULL FROM unnest($3::uuid[]) AS k(wallet_id) CROSS JOIN LATERAL (
				SELECT * FROM holds WHERE wallet_id = k.wallet_id AND open OFFSET 0) h) holds
		ORDER BY id`,
		values(named, func(k application.HoldKey) [16]byte { return k.Tenant }),
		values(named, func(k application.HoldKey) [16]byte { return k.Hold }), values(openOf, ids))
	return rows, translate(err, "read holds")
}

// selectTakenKeys returns which of the keys have a record.
func selectTakenKeys(ctx context.Context, db bun.IDB, keys []application.IdempotencyKey) ([]idempotencyRow, error) {
	var rows []idempotencyRow
	err := queryPrepared(ctx, db, &rows, `
		SELECT r.tenant_id, r.key FROM unnest($1::uuid[], $2::text[]) AS k(tenant_id, key) CROSS JOIN LATERAL (
			SELECT tenant_id, key FROM idempotency_records WHERE tenant_id = k.tenant_id AND key = k.key OFFSET 0) r`,
		values(keys, func(k application.IdempotencyKey) [16]byte { return k.Tenant }),
		values(keys, func(k application.IdempotencyKey) string { return k.Key }))
	return rows, translate(err, "read idempotency keys")
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

func selectHold(ctx context.Context, db bun.IDB, tenant domain.TenantID, id domain.HoldID) (holdRow, error) {
	var row holdRow
	err := db.NewSelect().Model(&row).Where("id = ? AND tenant_id = ?", uuid.UUID(id), uuid.UUID(tenant)).Scan(ctx)
	return row, translate(err, "read hold")
}

// selectCaptures reads the CAPTURE transactions of the holds (the columns a
// domain.HoldCapture needs), one index probe per hold (transactions_by_hold).
func selectCaptures(ctx context.Context, db bun.IDB, holds []uuid.UUID) ([]transactionRow, error) {
	var rows []transactionRow
	err := queryPrepared(ctx, db, &rows, `
		SELECT t.id, t.hold_id, t.amount, t.reason, t.metadata, t.created_at FROM unnest($1::uuid[]) AS k(hold_id) CROSS JOIN LATERAL (
			SELECT id, hold_id, amount, reason, metadata, created_at FROM transactions
			WHERE hold_id = k.hold_id AND type = 'CAPTURE' OFFSET 0) t`, values(holds, ids))
	return rows, translate(err, "read hold captures")
}
