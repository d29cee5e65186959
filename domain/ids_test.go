package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/creditd/creditd/domain"
)

func TestParseAccountID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"plain", "user-42", true},
		{"ASCII space", "jane doe", true},
		{"one character", "x", true},
		{"128 characters", strings.Repeat("a", 128), true},
		{"128 multi-byte characters", strings.Repeat("한", 128), true},
		{"emoji", "user😀", true},
		{"empty", "", false},
		{"129 characters", strings.Repeat("a", 129), false},
		{"tab", "a\tb", false},
		{"newline", "a\nb", false},
		{"NUL", "a\x00b", false},
		{"no-break space", "a\u00a0b", false},
		{"zero-width space", "a\u200bb", false},
		{"invalid UTF-8", "a\xffb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.ParseAccountID(tt.in)
			if !tt.ok {
				if !errors.Is(err, domain.ErrInvalidInput) {
					t.Fatalf("ParseAccountID(%q) = %q, %v; want ErrInvalidInput", tt.in, got, err)
				}
				return
			}
			if err != nil || got.String() != tt.in {
				t.Fatalf("ParseAccountID(%q) = %q, %v", tt.in, got, err)
			}
		})
	}
}

func TestParseTenantName(t *testing.T) {
	for in, ok := range map[string]bool{"acme": true, "a.b-c_9": true, "": false, "Acme": false, "a b": false,
		strings.Repeat("a", 64): true, strings.Repeat("a", 65): false} {
		if _, err := domain.ParseTenantName(in); ok != (err == nil) {
			t.Errorf("ParseTenantName(%q) error = %v, want ok=%v", in, err, ok)
		}
	}
}

func TestParseIDs(t *testing.T) {
	const id = "0190a6d8-7c3e-7b1a-9f00-000000000001"
	if h, err := domain.ParseHoldID(id); err != nil || h.String() != id {
		t.Errorf("ParseHoldID = %s, %v", h, err)
	}
	if k, err := domain.ParseAPIKeyID(id); err != nil || k.String() != id {
		t.Errorf("ParseAPIKeyID = %s, %v", k, err)
	}
	for _, bad := range []string{"", "not-a-uuid", id + "0"} {
		if _, err := domain.ParseHoldID(bad); !errors.Is(err, domain.ErrInvalidInput) {
			t.Errorf("ParseHoldID(%q) error = %v", bad, err)
		}
	}
}

func TestEnumsFromString(t *testing.T) {
	if s, err := domain.ScopeFromString("credits:write"); err != nil || s != domain.ScopeWrite {
		t.Errorf("ScopeFromString = %v, %v", s, err)
	}
	if _, err := domain.ScopeFromString("credits:admin"); !errors.Is(err, domain.ErrInvalidInput) {
		t.Errorf("ScopeFromString(unknown) error = %v", err)
	}
	if s, err := domain.LotSourceFromString("bonus"); err != nil || s != domain.LotBonus {
		t.Errorf("LotSourceFromString = %v, %v", s, err)
	}
	if _, err := domain.LotSourceFromString("Paid"); !errors.Is(err, domain.ErrInvalidInput) {
		t.Errorf("LotSourceFromString(Paid) error = %v", err)
	}
	for _, st := range []domain.HoldStatus{domain.HoldActive, domain.HoldPartiallyCaptured, domain.HoldCaptured, domain.HoldReleased, domain.HoldExpired} {
		if got, err := domain.HoldStatusFromString(st.String()); err != nil || got != st {
			t.Errorf("HoldStatusFromString(%s) = %v, %v", st, got, err)
		}
	}
	p := domain.Principal{Scopes: []domain.Scope{domain.ScopeRead}}
	if !p.Can(domain.ScopeRead) || p.Can(domain.ScopeWrite) {
		t.Error("Principal.Can ignores its scopes")
	}
}
