// Package postgres stores creditd's ledger in PostgreSQL with bun over pgx.
// Row structs stay in this package; nothing above it sees bun, pgx or SQL.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// Config says where the database is and how many connections to keep.
type Config struct {
	URL      string
	MaxConns int
	// WriteLanes is how many write transactions run at once (see
	// UnitOfWork), each on a connection of its own; 0 means DefaultWriteLanes.
	WriteLanes int
	// ReadLanes is how many statements reading wallets for several callers
	// run at once; 0 means DefaultReadLanes.
	ReadLanes int
	// ConnectTimeout is how long Open keeps trying, with backoff, to reach a
	// server that does not answer yet (starting, or not reachable yet); 0
	// tries once.
	ConnectTimeout time.Duration
	// Log, when set, gets a debug line per failed connection attempt and an
	// info line when a retried connection succeeds.
	Log *slog.Logger
}

// Defaults of Config, measured on a 2-core machine running creditd and
// PostgreSQL: one write lane leaves a core idle during each round trip, and
// more than two split the same load into smaller batches; two read lanes beat
// one and four.
const (
	DefaultWriteLanes = 2
	DefaultReadLanes  = 2
)

func (c Config) readLanes() int {
	if c.ReadLanes > 0 {
		return c.ReadLanes
	}
	return DefaultReadLanes
}

func (c Config) writeLanes() int {
	if c.WriteLanes > 0 {
		return c.WriteLanes
	}
	return DefaultWriteLanes
}

// Open connects to PostgreSQL and checks that it answers, retrying for up to
// cfg.ConnectTimeout while the server cannot be reached or is starting up. An
// answer that will not change by waiting (a wrong password, a missing
// database) fails at once. Errors name the server without the password.
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
	where := redact(pgxCfg)
	started := time.Now()
	attempts, err := connect(ctx, newConnectBackOff(cfg.ConnectTimeout, backoff.SystemClock), db.PingContext, func(err error, wait time.Duration) {
		if cfg.Log != nil {
			cfg.Log.DebugContext(ctx, "database not reachable yet", "database", where, "error", err.Error(), "retry_in", wait)
		}
	})
	if err != nil {
		_ = db.Close()
		// pgx's ConnectError repeats the user and database that where names.
		var ce *pgconn.ConnectError
		if errors.As(err, &ce) {
			err = oneLine{ce.Unwrap()}
		}
		if attempts > 1 {
			return nil, fmt.Errorf("connect to %s: gave up after %d attempts in %s: %w",
				where, attempts, time.Since(started).Round(100*time.Millisecond), err)
		}
		return nil, fmt.Errorf("connect to %s: %w", where, err)
	}
	if attempts > 1 && cfg.Log != nil {
		cfg.Log.InfoContext(ctx, "connected to the database", "database", where, "attempts", attempts,
			"waited", time.Since(started).Round(time.Millisecond))
	}
	return db, nil
}

// oneLine prints an error on one line without repeats, keeping its chain:
// pgx joins one error per address and TLS mode it tried, often the same one.
type oneLine struct{ error }

func (e oneLine) Error() string {
	var lines []string
	for _, l := range strings.Split(e.error.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(lines, l) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}

func (e oneLine) Unwrap() error { return e.error }

// pingTimeout bounds one connection attempt, so a server that takes the
// connection but never answers cannot hang start-up.
const pingTimeout = 10 * time.Second

// newConnectBackOff spaces connection attempts over window: quickly at first
// (a server that is just starting is up within a second or two), then every
// 5 s or so, the last one at the end of the window. Each wait varies by up to
// half, so replicas starting together do not knock in step. A zero window
// means a single attempt.
func newConnectBackOff(window time.Duration, clock backoff.Clock) backoff.BackOff {
	if window <= 0 {
		return &backoff.StopBackOff{}
	}
	return &untilBackOff{
		BackOff: backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(200*time.Millisecond),
			backoff.WithMaxInterval(5*time.Second),
			backoff.WithMaxElapsedTime(0), // untilBackOff ends it
			backoff.WithClockProvider(clock),
		),
		deadline: clock.Now().Add(window),
		clock:    clock,
	}
}

// untilBackOff stops at a deadline, shortening the wait before it so that
// the last attempt is made at the deadline (ExponentialBackOff's own limit
// gives up as soon as the next wait would cross it).
type untilBackOff struct {
	backoff.BackOff
	deadline time.Time
	clock    backoff.Clock
}

func (b *untilBackOff) NextBackOff() time.Duration {
	next, left := b.BackOff.NextBackOff(), b.deadline.Sub(b.clock.Now())
	if next == backoff.Stop || left <= 0 {
		return backoff.Stop
	}
	return min(next, left)
}

// connect pings until it succeeds, b stops, ctx ends or the server gives an
// answer that waiting will not change; notify hears of each failure that is
// retried. It returns how many attempts it made.
func connect(ctx context.Context, b backoff.BackOff, ping func(context.Context) error,
	notify backoff.Notify) (attempts int, err error) {
	err = backoff.RetryNotify(func() error {
		attempts++
		pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
		defer cancel()
		err := ping(pingCtx)
		if err != nil && !transient(err) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(b, ctx), notify)
	return attempts, err
}

// transient says whether waiting may cure a failed connection attempt:
// anything short of an answer from the server (refused, unreachable, timed
// out), and the server's own "starting up" and "too many connections".
func transient(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return true
	}
	switch pgErr.Code {
	case "57P03", // cannot_connect_now: starting up, shutting down, in recovery
		"53300": // too_many_connections
		return true
	}
	return false
}

// redact names the server without the password, for error messages.
func redact(c *pgx.ConnConfig) string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

var txReadOnlySnapshot = sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
