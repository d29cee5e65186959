package application

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/creditd/creditd/domain"
)

// ErrUnauthenticated means no valid API key was presented.
var ErrUnauthenticated = errors.New("missing, unknown or revoked API key")

// apiKeyPrefix marks creditd keys so they are recognisable in leaked-secret scans.
const apiKeyPrefix = "cdk_"

// APIKeys issues, checks and revokes tenants' API keys. Keys are random
// 256-bit secrets, so a plain SHA-256 is a sound way to store them: there is
// nothing to brute-force that a slow hash would protect.
type APIKeys struct {
	store APIKeyStore
	clock Clock
	ids   IDGenerator
	seen  sync.Map // [32]byte hash → authenticated; spares a database read per request
}

// authCacheTTL bounds how long a key stays trusted without a database read:
// a key revoked elsewhere (another replica, the CLI) stops working within it.
const authCacheTTL = 2 * time.Second

type authenticated struct {
	principal domain.Principal
	checkedAt time.Time
}

// NewAPIKeys builds the API key use cases.
func NewAPIKeys(store APIKeyStore, clock Clock, ids IDGenerator) *APIKeys {
	return &APIKeys{store: store, clock: clock, ids: ids}
}

// IssuedAPIKey is a new key; Secret is shown once and never stored.
type IssuedAPIKey struct {
	ID     domain.APIKeyID
	Tenant domain.TenantID
	Scopes []domain.Scope
	Secret string
}

// Create issues a key for the named tenant, creating the tenant if needed.
// No scopes means all scopes.
func (a *APIKeys) Create(ctx context.Context, tenant domain.TenantName, scopes []domain.Scope) (IssuedAPIKey, error) {
	if len(scopes) == 0 {
		scopes = domain.AllScopes
	}
	tenantID, err := a.store.EnsureTenant(ctx, tenant, domain.TenantID(a.ids.NewID()))
	if err != nil {
		return IssuedAPIKey{}, fmt.Errorf("create API key for tenant %s: %w", tenant, err)
	}
	secret := apiKeyPrefix + strings.ToLower(rand.Text()+rand.Text()) // 2 × 128 random bits
	hash := hashAPIKey(secret)
	key := StoredAPIKey{ID: domain.APIKeyID(a.ids.NewID()), Tenant: tenantID, Hash: hash[:], Scopes: scopes, CreatedAt: a.clock.Now()}
	if err := a.store.Create(ctx, key); err != nil {
		return IssuedAPIKey{}, fmt.Errorf("create API key for tenant %s: %w", tenant, err)
	}
	return IssuedAPIKey{ID: key.ID, Tenant: tenantID, Scopes: scopes, Secret: secret}, nil
}

// Authenticate resolves a presented secret to the principal it acts for.
func (a *APIKeys) Authenticate(ctx context.Context, secret string) (domain.Principal, error) {
	if !strings.HasPrefix(secret, apiKeyPrefix) {
		return domain.Principal{}, ErrUnauthenticated
	}
	hash := hashAPIKey(secret)
	now := a.clock.Now()
	if v, ok := a.seen.Load(hash); ok && now.Sub(v.(authenticated).checkedAt) < authCacheTTL {
		return v.(authenticated).principal, nil
	}
	key, err := a.store.FindActive(ctx, hash[:])
	if errors.Is(err, domain.ErrNotFound) {
		a.seen.Delete(hash)
		return domain.Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return domain.Principal{}, err
	}
	p := domain.Principal{Tenant: key.Tenant, TenantName: key.TenantName, Key: key.ID, Scopes: key.Scopes}
	a.seen.Store(hash, authenticated{principal: p, checkedAt: now})
	return p, nil
}

// Revoke stops a key from authenticating.
func (a *APIKeys) Revoke(ctx context.Context, id domain.APIKeyID) error {
	if err := a.store.Revoke(ctx, id, a.clock.Now()); err != nil {
		return fmt.Errorf("revoke API key %s: %w", id, err)
	}
	a.seen.Range(func(k, v any) bool { // this process forgets the key at once
		if v.(authenticated).principal.Key == id {
			a.seen.Delete(k)
		}
		return true
	})
	return nil
}

// List describes the keys of the named tenant, or of every tenant when
// tenant is zero, newest first.
func (a *APIKeys) List(ctx context.Context, tenant domain.TenantName) ([]APIKeyInfo, error) {
	keys, err := a.store.List(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return keys, nil
}

func hashAPIKey(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }
