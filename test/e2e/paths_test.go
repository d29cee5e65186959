//go:build integration

package e2e

import (
	"context"
	"testing"
)

// TestPlusAndSpaceAreTwoAccounts: in a path "+" is a plus sign and only %XX
// is decoded, so "user+1@x.com" and "user 1@x.com" are two wallets, and each
// spelling of an id reaches the one wallet it names.
func TestPlusAndSpaceAreTwoAccounts(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	s.do("POST", "/v1/accounts/user+1@x.com/grants", `{"amount":"10","source":"bonus"}`).expect(t, 201)
	s.do("POST", "/v1/accounts/user%201@x.com/grants", `{"amount":"3","source":"bonus"}`).expect(t, 201)
	s.do("POST", "/v1/accounts/user%2B1@x.com/spends", `{"amount":"1"}`).expect(t, 201)
	s.do("POST", "/v1/accounts/team%2F42/grants", `{"amount":"4","source":"bonus"}`).expect(t, 201)
	s.do("POST", "/v1/accounts/100%25/grants", `{"amount":"5","source":"bonus"}`).expect(t, 201)
	s.do("POST", "/v1/accounts/caf%C3%A9/grants", `{"amount":"6","source":"bonus"}`).expect(t, 201)

	for path, want := range map[string][2]string{
		"/v1/accounts/user+1@x.com":   {"user+1@x.com", "9"},
		"/v1/accounts/user%2B1@x.com": {"user+1@x.com", "9"},
		"/v1/accounts/user%201@x.com": {"user 1@x.com", "3"},
		"/v1/accounts/team%2F42":      {"team/42", "4"},
		"/v1/accounts/100%25":         {"100%", "5"},
		"/v1/accounts/café":           {"café", "6"}, // sent percent-encoded by the client
	} {
		r := s.do("GET", path, "").expect(t, 200)
		if r.JSON["id"] != want[0] || r.JSON["balance"] != want[1] {
			t.Errorf("%s: %s, want id %q balance %s", path, r.Raw, want[0], want[1])
		}
	}
	var accounts []string
	if err := s.db.NewRaw(`SELECT account_id FROM wallets ORDER BY account_id`).Scan(context.Background(), &accounts); err != nil {
		t.Fatal(err)
	}
	want := []string{"100%", "café", "team/42", "user 1@x.com", "user+1@x.com"}
	if len(accounts) != len(want) {
		t.Fatalf("wallets %q, want %q", accounts, want)
	}
	for i := range want {
		if accounts[i] != want[i] {
			t.Fatalf("wallets %q, want %q", accounts, want)
		}
	}
	s.requireSound()
}
