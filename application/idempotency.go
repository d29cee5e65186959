package application

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/creditd/creditd/domain"
)

// ErrIdempotencyKeyReused means a key was sent again with a different request.
var ErrIdempotencyKeyReused = errors.New("idempotency key was used for a different request")

// Receipt is a caller's rendering of an outcome, stored with the key and
// handed back byte for byte on every retry. The application never reads it.
type Receipt struct {
	Status int
	Body   []byte
	// Replayed is set on the way out when the receipt was stored by an
	// earlier request; it is not stored.
	Replayed bool
}

// Idempotency asks for a change to happen at most once per tenant and key.
type Idempotency[T any] struct {
	Key string
	// Fingerprint identifies the request; the same key with another fingerprint is refused.
	Fingerprint []byte
	// Encode renders the result, or the business rejection, as the caller will answer it.
	Encode func(result T, rejection error) (Receipt, error)
}

// IdempotencyRecord is a stored outcome.
type IdempotencyRecord struct {
	Tenant      domain.TenantID
	Key         string
	Fingerprint []byte
	Receipt     Receipt
	CreatedAt   time.Time
}

// runOnce runs change in a unit of work of the given scope. Without idem it
// returns change's result. With idem, the key is claimed in the same unit of
// work, so of two concurrent requests with one key, one executes and the
// other replays its receipt once it has committed: the change executes once.
// The receipt commits together with the change, so a crash can never leave
// one without the other. A business rejection rolls the change back and is
// then recorded on its own, so a retry cannot turn a rejection into a
// success.
func runOnce[T any](ctx context.Context, uow UnitOfWork, queries Queries, clock Clock, tenant domain.TenantID,
	idem *Idempotency[T], scope Scope, change func(context.Context, Repos) (T, error)) (T, *Receipt, error) {
	var zero T
	if idem == nil {
		var out T
		err := uow.WithinTx(ctx, scope, func(ctx context.Context, r Repos) error {
			var err error
			out, err = change(ctx, r)
			return err
		})
		if err != nil {
			return zero, nil, err
		}
		return out, nil, nil
	}

	record := IdempotencyRecord{Tenant: tenant, Key: idem.Key, Fingerprint: idem.Fingerprint}
	key := IdempotencyKey{Tenant: tenant, Key: idem.Key}
	scope.Keys = append(slices.Clone(scope.Keys), key)
	var out T
	err := uow.WithinTx(ctx, scope, func(ctx context.Context, r Repos) error {
		record.CreatedAt = clock.Now()
		if err := r.Idempotency.Claim(ctx, record); err != nil {
			return err
		}
		var err error
		if out, err = change(ctx, r); err != nil {
			return err
		}
		if record.Receipt, err = idem.Encode(out, nil); err != nil {
			return err
		}
		return r.Idempotency.Complete(ctx, tenant, idem.Key, record.Receipt)
	})
	switch {
	case err == nil:
		return out, &record.Receipt, nil
	case errors.Is(err, ErrIdempotencyKeyTaken):
		return replay[T](ctx, queries, record)
	case !domain.IsRejection(err):
		return zero, nil, err
	}

	if record.Receipt, err = idem.Encode(zero, err); err != nil {
		return zero, nil, err
	}
	record.CreatedAt = clock.Now()
	err = uow.WithinTx(ctx, Scope{Keys: []IdempotencyKey{key}}, func(ctx context.Context, r Repos) error {
		return r.Idempotency.Claim(ctx, record)
	})
	switch {
	case err == nil:
		return zero, &record.Receipt, nil
	case errors.Is(err, ErrIdempotencyKeyTaken):
		return replay[T](ctx, queries, record)
	}
	return zero, nil, err
}

func replay[T any](ctx context.Context, queries Queries, want IdempotencyRecord) (T, *Receipt, error) {
	var zero T
	r, err := storedReceipt(ctx, queries, want.Tenant, want.Key, want.Fingerprint)
	if err == nil && r == nil {
		err = fmt.Errorf("idempotency key %q: %w", want.Key, domain.ErrNotFound)
	}
	return zero, r, err
}

// storedReceipt is the receipt an earlier request stored under the key,
// marked replayed; nil when there is none. A use case that works outside its
// unit of work (a call to the payment gateway) asks first, so a retry
// repeats none of that work.
func storedReceipt(ctx context.Context, queries Queries, tenant domain.TenantID, key string, fingerprint []byte) (*Receipt, error) {
	got, err := queries.Idempotency.Get(ctx, tenant, key)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if !bytes.Equal(got.Fingerprint, fingerprint) {
		return nil, ErrIdempotencyKeyReused
	}
	got.Receipt.Replayed = true
	return &got.Receipt, nil
}

// IdempotencyJanitor forgets idempotency records past their retention.
type IdempotencyJanitor struct {
	records   IdempotencyCleaner
	clock     Clock
	retention time.Duration
}

// NewIdempotencyJanitor keeps records for retention (at least 30 days is promised to clients).
func NewIdempotencyJanitor(records IdempotencyCleaner, clock Clock, retention time.Duration) *IdempotencyJanitor {
	return &IdempotencyJanitor{records: records, clock: clock, retention: retention}
}

// Sweep deletes the records older than the retention and says how many.
func (j *IdempotencyJanitor) Sweep(ctx context.Context) (int, error) {
	return j.records.DeleteBefore(ctx, j.clock.Now().Add(-j.retention))
}
