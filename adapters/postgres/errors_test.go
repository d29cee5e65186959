package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// connectError is what pgx returns when it cannot open a connection.
func connectError(t *testing.T, cause error) error {
	t.Helper()
	cfg, err := pgconn.ParseConfig("postgres://u@127.0.0.1:1/db?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DialFunc = func(context.Context, string, string) (net.Conn, error) { return nil, cause }
	_, err = pgconn.ConnectConfig(context.Background(), cfg)
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("want a *pgconn.ConnectError, got %T %v", err, err)
	}
	return err
}

// TestTranslateClassifiesConnectionFailures: a failure to reach or talk to
// the server is application.ErrUnavailable (503, retry later), while the
// server's answers about the data keep their meaning.
func TestTranslateClassifiesConnectionFailures(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	unavailable := map[string]error{
		"connection refused":         connectError(t, refused),
		"connect timeout":            connectError(t, &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}),
		"reset while reading":        fmt.Errorf("failed to receive message: %w", reset),
		"broken pipe":                &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)},
		"server closed the socket":   fmt.Errorf("failed to receive message: %w", io.ErrUnexpectedEOF),
		"EOF":                        io.EOF,
		"bad connection":             driver.ErrBadConn,
		"connection already closed":  sql.ErrConnDone,
		"pgx closed conn":            fmt.Errorf("exec: %w", pgconn.ErrConnClosed),
		"request deadline passed":    fmt.Errorf("timeout: %w", context.DeadlineExceeded),
		"connection failure":         &pgconn.PgError{Code: "08006"},
		"cannot connect now":         &pgconn.PgError{Code: "57P03"},
		"admin shutdown":             &pgconn.PgError{Code: "57P01"},
		"crash shutdown":             &pgconn.PgError{Code: "57P02"},
		"too many connections":       &pgconn.PgError{Code: "53300"},
		"statement canceled":         &pgconn.PgError{Code: "57014"},
		"read-only standby":          &pgconn.PgError{Code: "25006"},
		"connection exception class": &pgconn.PgError{Code: "08001"},
	}
	for name, err := range unavailable {
		got := translate(err, "read wallets")
		if !errors.Is(got, application.ErrUnavailable) {
			t.Errorf("%s: %v is not ErrUnavailable", name, got)
		}
		if domain.IsRejection(got) {
			t.Errorf("%s: %v is a rejection, which idempotency would store", name, got)
		}
		if !errors.Is(got, err) {
			t.Errorf("%s: %v lost its cause", name, got)
		}
	}

	for name, tc := range map[string]struct {
		err  error
		want error
	}{
		"no rows":              {sql.ErrNoRows, domain.ErrNotFound},
		"pgx no rows":          {pgx.ErrNoRows, domain.ErrNotFound},
		"serialization":        {&pgconn.PgError{Code: "40001"}, errRetryable},
		"deadlock":             {&pgconn.PgError{Code: "40P01"}, errRetryable},
		"key taken":            {&pgconn.PgError{Code: "23505", ConstraintName: "idempotency_records_pkey"}, application.ErrIdempotencyKeyTaken},
		"check violation":      {&pgconn.PgError{Code: "23514"}, nil},
		"untranslatable":       {&pgconn.PgError{Code: "22P05"}, nil},
		"syntax error":         {&pgconn.PgError{Code: "42601"}, nil},
		"caller went away":     {context.Canceled, nil},
		"a bug in this module": {errors.New("scan: unexpected column"), nil},
	} {
		got := translate(tc.err, "op")
		if errors.Is(got, application.ErrUnavailable) {
			t.Errorf("%s: %v is ErrUnavailable", name, got)
		}
		if tc.want != nil && !errors.Is(got, tc.want) {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
	if translate(nil, "op") != nil {
		t.Error("translate(nil) is not nil")
	}
	// Translating twice (an error from a statement, again for the batch) keeps one classification.
	twice := translate(translate(driver.ErrBadConn, "lock wallets"), "run batch")
	if !errors.Is(twice, application.ErrUnavailable) || twice.Error() != translate(driver.ErrBadConn, "lock wallets").Error() {
		t.Errorf("translated twice: %v", twice)
	}
}
