// Package memory implements the application's ports in memory, for tests.
// It mimics the Postgres adapter's semantics: transactions that commit all or
// nothing, one writer at a time, and stored rows that callers can never alias.
package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// Store holds a whole creditd ledger in memory. It is safe for concurrent use.
//
// Transactions run one at a time: that is the simplest way to give every
// transaction the isolation that row locks give it in Postgres. A transaction
// reads the committed tables through an overlay of its own writes, and the
// overlay is merged in only when its function returns nil.
type Store struct {
	writeMu sync.Mutex   // held by the one transaction (or single write) running
	mu      sync.RWMutex // guards committed against readers while a commit merges into it
	data    db           // the committed state
	keys    *apiKeyStore
	catalog *productStore
}

// NewStore returns an empty store.
func NewStore() *Store {
	keys := newAPIKeyStore()
	return &Store{data: newDB(), keys: keys, catalog: newProductStore(keys)}
}

var (
	_ application.UnitOfWork            = unitOfWork{}
	_ application.WalletRepository      = walletRepo{}
	_ application.LedgerRepository      = ledgerRepo{}
	_ application.ReversalRepository    = reversalRepo{}
	_ application.HoldRepository        = holdRepo{}
	_ application.IdempotencyRepository = idempotencyRepo{}
	_ application.WalletQueries         = walletQueries{}
	_ application.LedgerQueries         = ledgerQueries{}
	_ application.HoldQueries           = holdQueries{}
	_ application.IdempotencyQueries    = idempotencyQueries{}
	_ application.IdempotencyCleaner    = idempotencyQueries{}
	_ application.Auditor               = auditor{}
	_ application.APIKeyStore           = (*apiKeyStore)(nil)
)

// UnitOfWork runs functions as transactions on the store. WithinTx holds the
// store's write lock while fn runs, so fn must not start another transaction
// or clean idempotency records: either would wait for itself forever.
func (s *Store) UnitOfWork() application.UnitOfWork { return unitOfWork{s} }

// Queries read the committed state.
func (s *Store) Queries() application.Queries {
	q := queries{s}
	return application.Queries{Wallets: walletQueries{q}, Ledger: ledgerQueries{q}, Holds: holdQueries{q}, Idempotency: idempotencyQueries{q},
		Orders: orderQueries{q}, Reports: reportQueries{q}, Lookups: lookupQueries{q}}
}

// IdempotencyCleaner forgets old idempotency records, each call a transaction of its own.
func (s *Store) IdempotencyCleaner() application.IdempotencyCleaner {
	return idempotencyQueries{queries{s}}
}

// APIKeys stores tenants and API keys.
func (s *Store) APIKeys() application.APIKeyStore { return s.keys }

// Products stores tenants' credit packs.
func (s *Store) Products() application.ProductStore { return s.catalog }

// Auditor recomputes every cache from the postings and open holds.
func (s *Store) Auditor() application.Auditor { return auditor{s} }

type unitOfWork struct{ s *Store }

func (u unitOfWork) WithinTx(ctx context.Context, scope application.Scope, fn func(ctx context.Context, r application.Repos) error) error {
	return u.s.write(ctx, func(tx db) error {
		t := txRepos{tx: tx, scope: resolveScope(tx, scope)}
		return fn(ctx, application.Repos{Wallets: walletRepo{t}, Ledger: ledgerRepo{t}, Holds: holdRepo{t}, Idempotency: idempotencyRepo{t},
			Orders: orderRepo{t}, Reversals: reversalRepo{t}, Events: eventRepo{t}})
	})
}

// txScope is what one transaction may lock and claim.
type txScope struct {
	wallets map[walletKey]bool
	keys    map[idempotencyKey]bool
	orders  map[domain.PaymentID]bool
}

// resolveScope turns a declared scope into the wallets and keys it names:
// a hold names its wallet, if the hold exists.
func resolveScope(tx db, scope application.Scope) txScope {
	s := txScope{wallets: map[walletKey]bool{}, keys: map[idempotencyKey]bool{}, orders: map[domain.PaymentID]bool{}}
	for _, w := range scope.Wallets {
		s.wallets[walletKey{w.Tenant, w.Account}] = true
	}
	for _, h := range scope.Holds {
		if rec, ok := tx.holds.get(h.Hold); ok && rec.tenant == h.Tenant {
			s.wallets[walletKey{rec.tenant, rec.account}] = true
		}
	}
	for _, k := range scope.Keys {
		s.keys[idempotencyKey{k.Tenant, k.Key}] = true
	}
	for _, o := range scope.Orders {
		s.orders[o] = true
	}
	return s
}

// write runs fn on an overlay of the committed state and merges the overlay
// in only when fn succeeds.
func (s *Store) write(ctx context.Context, fn func(tx db) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx := s.data.overlay()
	if err := fn(tx); err != nil {
		return err // the overlay is dropped: nothing fn wrote is kept
	}
	s.mu.Lock()
	tx.commit()
	s.mu.Unlock()
	return nil
}

// read runs fn on the committed state.
func (s *Store) read(ctx context.Context, fn func(d db) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return fn(s.data)
}

// txRepos are the repositories of one transaction: they read its overlay of
// the committed state and write to it. The transaction holds writeMu, and
// only writers holding it change the committed maps, so reading them needs no
// further lock.
type txRepos struct {
	tx    db
	scope txScope // what the transaction may lock and claim
}

// lockable says whether the transaction may lock the wallet.
func (r txRepos) lockable(key walletKey) error {
	if !r.scope.wallets[key] {
		return fmt.Errorf("lock wallet of %q: %w", key.account, application.ErrOutOfScope)
	}
	return nil
}

// queries read the committed state.
type queries struct{ s *Store }

// db is every transactional table. The committed db has no overlays; a
// transaction's db shares the committed maps and writes only to its overlays.
type db struct {
	wallets     table[walletKey, walletRecord]
	holds       table[domain.HoldID, holdRecord]
	ledger      table[domain.TransactionID, txRecord]
	idempotency table[idempotencyKey, idempotencyRecord]
	orders      table[domain.PaymentID, domain.Order]
	// events is the outbox, by event id; seq orders it as the database's
	// identity column does.
	events table[[16]byte, eventRecord]
	seq    *int64
	// notices are the lots a lots.expiring event named, and when.
	notices table[domain.LotID, time.Time]
}

// eventRecord is an event in the outbox.
type eventRecord struct {
	seq   int64
	event application.Event
}

func newDB() db {
	return db{
		wallets:     table[walletKey, walletRecord]{rows: map[walletKey]walletRecord{}},
		holds:       table[domain.HoldID, holdRecord]{rows: map[domain.HoldID]holdRecord{}},
		ledger:      table[domain.TransactionID, txRecord]{rows: map[domain.TransactionID]txRecord{}},
		idempotency: table[idempotencyKey, idempotencyRecord]{rows: map[idempotencyKey]idempotencyRecord{}},
		orders:      table[domain.PaymentID, domain.Order]{rows: map[domain.PaymentID]domain.Order{}},
		events:      table[[16]byte, eventRecord]{rows: map[[16]byte]eventRecord{}},
		notices:     table[domain.LotID, time.Time]{rows: map[domain.LotID]time.Time{}},
		seq:         new(int64),
	}
}

func (d db) overlay() db {
	return db{wallets: d.wallets.overlay(), holds: d.holds.overlay(), ledger: d.ledger.overlay(), idempotency: d.idempotency.overlay(),
		orders: d.orders.overlay(), events: d.events.overlay(), seq: d.seq,
		notices: d.notices.overlay()}
}

func (d db) commit() {
	d.wallets.commit()
	d.holds.commit()
	d.ledger.commit()
	d.idempotency.commit()
	d.orders.commit()
	d.events.commit()
	d.notices.commit()
}

// table is one kind of record. Records are values that are never changed in
// place: a write stores a new record. In a transaction, writes go to the
// overlay (a nil record marks a deletion) and reads look there first.
type table[K comparable, V any] struct {
	rows    map[K]V
	written map[K]*V // nil in the committed db
}

func (t table[K, V]) overlay() table[K, V] { return table[K, V]{rows: t.rows, written: map[K]*V{}} }

func (t table[K, V]) get(k K) (V, bool) {
	if v, ok := t.written[k]; ok {
		if v == nil {
			var zero V
			return zero, false
		}
		return *v, true
	}
	v, ok := t.rows[k]
	return v, ok
}

func (t table[K, V]) put(k K, v V) { t.written[k] = &v }

func (t table[K, V]) del(k K) { t.written[k] = nil }

// all yields every visible record, in no particular order.
func (t table[K, V]) all(yield func(K, V) bool) {
	for k, v := range t.written {
		if v != nil && !yield(k, *v) {
			return
		}
	}
	for k, v := range t.rows {
		if _, shadowed := t.written[k]; !shadowed && !yield(k, v) {
			return
		}
	}
}

func (t table[K, V]) commit() {
	for k, v := range t.written {
		if v == nil {
			delete(t.rows, k)
		} else {
			t.rows[k] = *v
		}
	}
}

type eventRepo struct{ txRepos }

// Append numbers events as they are written, as the database does: a
// transaction that rolls back leaves a gap.
func (r eventRepo) Append(_ context.Context, events ...application.Event) error {
	for _, e := range events {
		*r.tx.seq++
		r.tx.events.put(e.ID, eventRecord{seq: *r.tx.seq, event: e})
	}
	return nil
}

// Events reads the outbox as committed, in the order events were written.
func (s *Store) Events() []application.Event {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var recs []eventRecord
	for _, r := range s.data.events.rows {
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b eventRecord) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]application.Event, len(recs))
	for i, r := range recs {
		out[i] = r.event
	}
	return out
}
