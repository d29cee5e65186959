package postgres

import (
	"database/sql"
	"errors"
	"fmt"

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
}

// translate turns driver errors into application and domain errors, so
// nothing above this package needs to know PostgreSQL's error codes.
func translate(err error, op string) error {
	if err == nil {
		return nil
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
	return fmt.Errorf("%s: %w", op, err)
}
