package postgres

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/jackc/pgx/v5/pgconn"
)

// fastBackOff retries every millisecond, at most n times.
func fastBackOff(n uint64) backoff.BackOff {
	return backoff.WithMaxRetries(backoff.NewConstantBackOff(time.Millisecond), n)
}

func TestConnectRetriesUntilTheServerAnswers(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	startingUp := &pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}
	failures := []error{refused, refused, startingUp}
	var notified []error
	attempts, err := connect(t.Context(), fastBackOff(10), func(context.Context) error {
		if len(failures) == 0 {
			return nil
		}
		err := failures[0]
		failures = failures[1:]
		return err
	}, func(err error, _ time.Duration) { notified = append(notified, err) })
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if attempts != 4 || len(notified) != 3 {
		t.Fatalf("attempts = %d, notified = %v; want 4 attempts and 3 retried failures", attempts, notified)
	}
}

func TestConnectStopsAtAnAnswerWaitingCannotChange(t *testing.T) {
	badPassword := &pgconn.PgError{Severity: "FATAL", Code: "28P01", Message: "password authentication failed"}
	attempts, err := connect(t.Context(), fastBackOff(10), func(context.Context) error { return badPassword }, nil)
	if !errors.Is(err, badPassword) || attempts != 1 {
		t.Fatalf("attempts = %d, err = %v; want one attempt failing with the server's answer", attempts, err)
	}
}

func TestConnectGivesUpWhenTheBackOffStops(t *testing.T) {
	refused := errors.New("connection refused")
	attempts, err := connect(t.Context(), fastBackOff(2), func(context.Context) error { return refused }, nil)
	if !errors.Is(err, refused) || attempts != 3 {
		t.Fatalf("attempts = %d, err = %v; want 3 attempts (1 + 2 retries) ending in the last failure", attempts, err)
	}
}

func TestConnectBackOffWindow(t *testing.T) {
	epoch := time.Unix(0, 0)
	clock := &fakeClock{now: epoch}
	if d := newConnectBackOff(0, clock).NextBackOff(); d != backoff.Stop {
		t.Errorf("a zero window must try once, got a retry after %s", d)
	}
	// Over a 30 s window the waits start near 200 ms, never exceed 5 s (plus
	// up to half of it at random), and the last attempt comes at the end of
	// the window.
	b := newConnectBackOff(30*time.Second, clock)
	b.Reset()
	var waits []time.Duration
	for d := b.NextBackOff(); d != backoff.Stop; d = b.NextBackOff() {
		if d > 7500*time.Millisecond || d <= 0 {
			t.Fatalf("wait %s: want 0 < wait <= 7.5 s (waits so far %v)", d, waits)
		}
		clock.now = clock.now.Add(d)
		waits = append(waits, d)
	}
	if len(waits) == 0 || waits[0] > 300*time.Millisecond {
		t.Fatalf("waits %v: want a first wait of about 200 ms", waits)
	}
	if elapsed := clock.now.Sub(epoch); elapsed != 30*time.Second {
		t.Errorf("the last attempt comes %s in, want at the end of the 30 s window (waits %v)", elapsed, waits)
	}
}

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }
