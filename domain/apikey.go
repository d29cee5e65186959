package domain

import (
	"fmt"
	"slices"
	"strings"
)

// Scope is one permission an API key grants.
type Scope struct{ slug string }

var (
	ScopeRead         = Scope{"credits:read"}  // read accounts, holds and history
	ScopeWrite        = Scope{"credits:write"} // grant, spend, hold, capture, release
	ScopeCatalogWrite = Scope{"catalog:write"} // create and change credit packs (reading them needs no scope)
	ScopeOrdersRead   = Scope{"orders:read"}   // read orders, refund quotes and reconciliation reports
	ScopeOrdersWrite  = Scope{"orders:write"}  // create and complete orders, refund them
	ScopeEventsRead   = Scope{"events:read"}   // read webhook endpoints, their deliveries and event settings
	ScopeEventsWrite  = Scope{"events:write"}  // register and remove webhook endpoints, redeliver, change event settings
)

// AllScopes is what a key gets when none are asked for.
var AllScopes = []Scope{ScopeRead, ScopeWrite, ScopeCatalogWrite, ScopeOrdersRead, ScopeOrdersWrite, ScopeEventsRead, ScopeEventsWrite}

// ScopeFromString parses a scope's name (see AllScopes).
func ScopeFromString(s string) (Scope, error) {
	for _, sc := range AllScopes {
		if sc.slug == s {
			return sc, nil
		}
	}
	names := make([]string, len(AllScopes))
	for i, sc := range AllScopes {
		names[i] = sc.slug
	}
	return Scope{}, fmt.Errorf("%w: unknown scope %q (known: %s)", ErrInvalidInput, s, strings.Join(names, ", "))
}

func (s Scope) String() string { return s.slug }

// Principal is who an authenticated request acts for.
type Principal struct {
	Tenant     TenantID
	TenantName TenantName // for logs and operators; Tenant is what scopes data
	Key        APIKeyID
	Scopes     []Scope
}

// Can reports whether the principal holds scope.
func (p Principal) Can(scope Scope) bool { return slices.Contains(p.Scopes, scope) }
