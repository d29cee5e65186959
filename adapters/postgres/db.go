// Package postgres stores creditd's ledger in PostgreSQL with bun over pgx.
// Row structs stay in this package; nothing above it sees bun, pgx or SQL.
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// Config says where the database is and how many connections to keep.
type Config struct {
	URL      string
	MaxConns int
	// WriteLanes is how many write transactions run at once (see
	// UnitOfWork), each on a connection of its own; 0 means 2.
	WriteLanes int
	// ReadLanes is how many statements reading wallets for several callers
	// run at once; 0 means 2.
	ReadLanes int
}

const defaultReadLanes = 2

func (c Config) readLanes() int {
	if c.ReadLanes > 0 {
		return c.ReadLanes
	}
	return defaultReadLanes
}

// defaultWriteLanes is what measured best on a 2-core machine running
// creditd and PostgreSQL: one lane leaves a core idle during each round
// trip, and more than two split the same load into smaller batches.
const defaultWriteLanes = 2

func (c Config) writeLanes() int {
	if c.WriteLanes > 0 {
		return c.WriteLanes
	}
	return defaultWriteLanes
}

// Open connects to PostgreSQL and checks that it answers.
func Open(ctx context.Context, cfg Config) (*bun.DB, error) {
	pgxCfg, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	// bun writes argument values into the SQL text itself, so every statement
	// is new to the server: pgx's default (prepare, cache, then execute) would
	// spend an extra round trip per statement preparing it. The simple
	// protocol sends the finished text in one round trip. The hot-path
	// statements, whose text never changes, ask for the statement cache
	// themselves (statements.go).
	pgxCfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	sqldb := sql.OpenDB(stdlib.GetConnector(*pgxCfg))
	sqldb.SetMaxOpenConns(cfg.MaxConns)
	sqldb.SetMaxIdleConns(cfg.MaxConns)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	db := bun.NewDB(sqldb, pgdialect.New(), bun.WithDiscardUnknownColumns())
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connect to %s: %w", redact(pgxCfg), err)
	}
	return db, nil
}

// redact names the server without the password, for error messages.
func redact(c *pgx.ConnConfig) string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

var txReadOnlySnapshot = sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
