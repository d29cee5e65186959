package application_test

import (
	"slices"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

func TestAPIKeysList(t *testing.T) {
	ctx := t.Context()
	clock := memory.NewFixedClock(start)
	keys := application.NewAPIKeys(memory.NewStore().APIKeys(), clock, &memory.SequentialIDs{})
	acme, _ := domain.ParseTenantName("acme")
	globex, _ := domain.ParseTenantName("globex")
	nobody, _ := domain.ParseTenantName("nobody")

	if all, err := keys.List(ctx, domain.TenantName{}); err != nil || len(all) != 0 {
		t.Fatalf("no keys yet: %v, %v", all, err)
	}
	first, err := keys.Create(ctx, acme, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	second, err := keys.Create(ctx, globex, []domain.Scope{domain.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	third, err := keys.Create(ctx, acme, []domain.Scope{domain.ScopeWrite})
	if err != nil {
		t.Fatal(err)
	}
	revokedAt := clock.Advance(time.Minute)
	if err := keys.Revoke(ctx, first.ID); err != nil {
		t.Fatal(err)
	}

	want := []application.APIKeyInfo{
		{ID: third.ID, Tenant: third.Tenant, TenantName: acme, Scopes: []domain.Scope{domain.ScopeWrite}, CreatedAt: start.Add(2 * time.Minute)},
		{ID: second.ID, Tenant: second.Tenant, TenantName: globex, Scopes: []domain.Scope{domain.ScopeRead}, CreatedAt: start.Add(time.Minute)},
		{ID: first.ID, Tenant: first.Tenant, TenantName: acme, Scopes: domain.AllScopes, CreatedAt: start, RevokedAt: revokedAt},
	}
	all, err := keys.List(ctx, domain.TenantName{})
	if err != nil || !slices.EqualFunc(all, want, equalInfo) {
		t.Fatalf("all keys, newest first:\n got %+v, %v\nwant %+v", all, err, want)
	}
	onlyAcme, err := keys.List(ctx, acme)
	if err != nil || !slices.EqualFunc(onlyAcme, []application.APIKeyInfo{want[0], want[2]}, equalInfo) {
		t.Fatalf("acme's keys: %+v, %v", onlyAcme, err)
	}
	if none, err := keys.List(ctx, nobody); err != nil || len(none) != 0 {
		t.Fatalf("an unknown tenant has no keys: %+v, %v", none, err)
	}
}

func equalInfo(a, b application.APIKeyInfo) bool {
	return a.ID == b.ID && a.Tenant == b.Tenant && a.TenantName == b.TenantName && slices.Equal(a.Scopes, b.Scopes) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.RevokedAt.Equal(b.RevokedAt)
}
