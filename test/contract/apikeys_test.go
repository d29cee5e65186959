//go:build integration

package contract

import (
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// TestAPIKeyStoreList: keys are listed newest first (the higher id first when
// created in the same instant), revoked ones with their revocation time, by
// tenant or all, and never with their hash.
func TestAPIKeyStoreList(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		acme, _ := domain.ParseTenantName("acme")
		globex, _ := domain.ParseTenantName("globex")
		nobody, _ := domain.ParseTenantName("nobody")
		create := func(tenant domain.TenantID, at time.Time, scopes ...domain.Scope) domain.APIKeyID {
			t.Helper()
			id := domain.APIKeyID(f.ids.NewID())
			hash := sha256.Sum256(id[:])
			if err := f.ports.keys.Create(f.ctx, application.StoredAPIKey{ID: id, Tenant: tenant, Hash: hash[:],
				Scopes: scopes, CreatedAt: at}); err != nil {
				t.Fatal(err)
			}
			return id
		}
		list := func(tenant domain.TenantName) []application.APIKeyInfo {
			t.Helper()
			keys, err := f.ports.keys.List(f.ctx, tenant)
			if err != nil {
				t.Fatal(err)
			}
			return keys
		}
		if keys := list(domain.TenantName{}); len(keys) != 0 {
			t.Fatalf("no keys yet, got %+v", keys)
		}

		oldest := create(f.tenant, start, domain.ScopeRead, domain.ScopeWrite)
		twinA := create(f.other, start.Add(time.Hour), domain.ScopeRead)
		twinB := create(f.tenant, start.Add(time.Hour), domain.ScopeWrite) // same instant, higher id
		newest := create(f.tenant, start.Add(2*time.Hour), domain.ScopeRead)
		revokedAt := start.Add(3 * time.Hour)
		if err := f.ports.keys.Revoke(f.ctx, oldest, revokedAt); err != nil {
			t.Fatal(err)
		}

		want := []application.APIKeyInfo{
			{ID: newest, Tenant: f.tenant, TenantName: acme, Scopes: []domain.Scope{domain.ScopeRead}, CreatedAt: start.Add(2 * time.Hour)},
			{ID: twinB, Tenant: f.tenant, TenantName: acme, Scopes: []domain.Scope{domain.ScopeWrite}, CreatedAt: start.Add(time.Hour)},
			{ID: twinA, Tenant: f.other, TenantName: globex, Scopes: []domain.Scope{domain.ScopeRead}, CreatedAt: start.Add(time.Hour)},
			{ID: oldest, Tenant: f.tenant, TenantName: acme, Scopes: []domain.Scope{domain.ScopeRead, domain.ScopeWrite},
				CreatedAt: start, RevokedAt: revokedAt},
		}
		if got := list(domain.TenantName{}); !slices.EqualFunc(got, want, sameKeyInfo) {
			t.Fatalf("all keys:\n got %+v\nwant %+v", got, want)
		}
		if got := list(acme); !slices.EqualFunc(got, []application.APIKeyInfo{want[0], want[1], want[3]}, sameKeyInfo) {
			t.Fatalf("acme's keys: %+v", got)
		}
		if got := list(globex); !slices.EqualFunc(got, want[2:3], sameKeyInfo) {
			t.Fatalf("globex's keys: %+v", got)
		}
		if got := list(nobody); len(got) != 0 {
			t.Fatalf("an unknown tenant has no keys, got %+v", got)
		}
	})
}

func sameKeyInfo(a, b application.APIKeyInfo) bool {
	return a.ID == b.ID && a.Tenant == b.Tenant && a.TenantName == b.TenantName && slices.Equal(a.Scopes, b.Scopes) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.RevokedAt.Equal(b.RevokedAt)
}
