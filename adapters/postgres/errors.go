package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// errRetryable marks a serialization failure or deadlock: the whole
// transaction may be run again.
var errRetryable = errors.New("retryable transaction conflict")

// uniqueViolations maps unique constraints, by name, to what they mean.
var uniqueViolations = map[string]error{
	"idempotency_records_pkey": application.ErrIdempotencyKeyTaken,
	// Another transaction created the same wallet first: run again, and
	// find it.
	"wallets_tenant_account_key": errRetryable,
	"products_pkey":              domain.ErrAlreadyExists,
}

// translate turns driver errors into application and domain errors, so
// nothing above this package needs to know PostgreSQL's error codes. An
// error it translated before is returned as it is.
func translate(err error, op string) error {
	if err == nil || errors.Is(err, application.ErrUnavailable) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, domain.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return fmt.Errorf("%s: %w: %w", op, errRetryable, err)
		case "23505": // unique_violation
			if mapped, ok := uniqueViolations[pgErr.ConstraintName]; ok {
				return fmt.Errorf("%s: %w", op, mapped)
			}
		}
	}
	if unreachable(err) {
		return fmt.Errorf("%s: %w: %w", op, application.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// unavailableStates are the SQLSTATEs (or, two characters long, classes)
// with which a server says it cannot serve now, not that the statement is
// wrong: the same statement may succeed later, or on the server a failover
// promotes.
var unavailableStates = map[string]bool{
	"08":    true, // connection_exception
	"53300": true, // too_many_connections
	"57014": true, // query_canceled: a statement timeout or a cancel request
	"57P01": true, // admin_shutdown
	"57P02": true, // crash_shutdown
	"57P03": true, // cannot_connect_now: starting up, or in recovery
	"25006": true, // read_only_sql_transaction: a write reached a standby during a failover
}

// unreachable reports whether err means the database could not be reached
// or did not answer: connecting failed, the connection broke or timed out,
// or the server said it cannot serve now. context.Canceled is not among
// them: it is the caller giving up.
func unreachable(err error) bool {
	var (
		pgErr      *pgconn.PgError
		connectErr *pgconn.ConnectError
		netErr     net.Error
	)
	switch {
	case errors.Is(err, context.Canceled): // pgx may wrap it as a timeout too
		return false
	case errors.As(err, &pgErr):
		return unavailableStates[pgErr.Code] || unavailableStates[pgErr.Code[:min(2, len(pgErr.Code))]]
	case errors.As(err, &connectErr), errors.As(err, &netErr), pgconn.Timeout(err):
		return true
	}
	for _, target := range []error{driver.ErrBadConn, sql.ErrConnDone, pgconn.ErrConnClosed,
		context.DeadlineExceeded, io.EOF, io.ErrUnexpectedEOF, syscall.ECONNRESET, syscall.EPIPE} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
