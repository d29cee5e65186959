package application_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

func TestAPIKeys(t *testing.T) {
	ctx := t.Context()
	store := memory.NewStore()
	keys := application.NewAPIKeys(store.APIKeys(), memory.NewFixedClock(start), &memory.SequentialIDs{})
	acme, err := domain.ParseTenantName("acme")
	if err != nil {
		t.Fatal(err)
	}

	full, err := keys.Create(ctx, acme, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(full.Secret, "cdk_") || len(full.Secret) < 4+50 || !slices.Equal(full.Scopes, domain.AllScopes) {
		t.Fatalf("issued %+v: want a long cdk_ secret with all scopes", full)
	}
	p, err := keys.Authenticate(ctx, full.Secret)
	if err != nil || p.Tenant != full.Tenant || p.Key != full.ID || !p.Can(domain.ScopeWrite) || !p.Can(domain.ScopeRead) {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}

	readOnly, err := keys.Create(ctx, acme, []domain.Scope{domain.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	if readOnly.Tenant != full.Tenant || readOnly.Secret == full.Secret || readOnly.ID == full.ID {
		t.Fatalf("second key %+v: want the same tenant, another key", readOnly)
	}
	if p, err := keys.Authenticate(ctx, readOnly.Secret); err != nil || p.Can(domain.ScopeWrite) || !p.Can(domain.ScopeRead) {
		t.Fatalf("read-only key authenticates as %+v, %v", p, err)
	}

	globex, _ := domain.ParseTenantName("globex")
	other, err := keys.Create(ctx, globex, nil)
	if err != nil || other.Tenant == full.Tenant {
		t.Fatalf("another tenant's key %+v, %v", other, err)
	}

	for name, secret := range map[string]string{
		"empty":          "",
		"no prefix":      strings.TrimPrefix(full.Secret, "cdk_"),
		"wrong prefix":   "cdx_" + strings.TrimPrefix(full.Secret, "cdk_"),
		"upper case":     strings.ToUpper(full.Secret),
		"unknown secret": "cdk_" + strings.Repeat("a", 52),
		"truncated":      full.Secret[:len(full.Secret)-1],
	} {
		if _, err := keys.Authenticate(ctx, secret); !errors.Is(err, application.ErrUnauthenticated) {
			t.Errorf("%s: Authenticate = %v, want ErrUnauthenticated", name, err)
		}
	}

	if err := keys.Revoke(ctx, full.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Authenticate(ctx, full.Secret); !errors.Is(err, application.ErrUnauthenticated) {
		t.Fatalf("revoked key: %v, want ErrUnauthenticated", err)
	}
	if _, err := keys.Authenticate(ctx, readOnly.Secret); err != nil {
		t.Fatalf("revoking one key revoked another: %v", err)
	}
	if err := keys.Revoke(ctx, full.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("second revoke: %v, want ErrNotFound", err)
	}
	if err := keys.Revoke(ctx, domain.APIKeyID{}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("revoke of an unknown key: %v, want ErrNotFound", err)
	}
}

// TestRevocationElsewhereTakesEffectWithinTheCacheTTL: another process (a
// second replica, the CLI) revokes a key; this one trusts it at most 2s more.
func TestRevocationElsewhereTakesEffectWithinTheCacheTTL(t *testing.T) {
	ctx := t.Context()
	store, clock, ids := memory.NewStore(), memory.NewFixedClock(start), &memory.SequentialIDs{}
	here := application.NewAPIKeys(store.APIKeys(), clock, ids)
	elsewhere := application.NewAPIKeys(store.APIKeys(), clock, ids)
	acme, _ := domain.ParseTenantName("acme")
	key, err := here.Create(ctx, acme, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := here.Authenticate(ctx, key.Secret); err != nil {
		t.Fatal(err)
	}
	if err := elsewhere.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := here.Authenticate(ctx, key.Secret); err != nil {
		t.Fatalf("within the TTL the cached key still works: %v", err)
	}
	clock.Advance(2 * time.Second)
	if _, err := here.Authenticate(ctx, key.Secret); !errors.Is(err, application.ErrUnauthenticated) {
		t.Fatalf("after the TTL the revoked key: %v, want ErrUnauthenticated", err)
	}
}
