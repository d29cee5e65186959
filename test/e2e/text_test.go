//go:build integration

package e2e

import (
	"testing"
)

// TestTextPostgreSQLCannotStoreIsRefused: NUL cannot be stored in text or
// jsonb; such a reason or metadata key or value is a 400 naming the field,
// every time, and the database stays as it was. Neither invalid UTF-8 nor an
// ambiguous body reaches it.
func TestTextPostgreSQLCannotStoreIsRefused(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	s.do("POST", "/v1/accounts/u1/grants", `{"amount":"10","source":"bonus"}`).expect(t, 201)
	s.do("POST", "/v1/accounts/u1/holds", `{"amount":"1","expiresInSeconds":600}`).expect(t, 201)
	before := s.snapshot()

	for _, tc := range []struct{ name, path, body, field string }{
		{"NUL in a spend's reason", "/v1/accounts/u1/spends", `{"amount":"1","reason":"a\u0000b"}`, "reason"},
		{"NUL in a grant's reason", "/v1/accounts/u1/grants", `{"amount":"1","source":"bonus","reason":"\u0000"}`, "reason"},
		{"NUL in a hold's reason", "/v1/accounts/u1/holds", `{"amount":"1","expiresInSeconds":60,"reason":"x\u0000"}`, "reason"},
		{"NUL in a metadata key", "/v1/accounts/u1/spends", `{"amount":"1","metadata":{"k\u0000":"v"}}`, "metadata"},
		{"NUL in a metadata value", "/v1/accounts/u1/grants", `{"amount":"1","source":"bonus","metadata":{"k":"\u0000"}}`, "metadata"},
		{"NUL in a hold's metadata", "/v1/accounts/u1/holds", `{"amount":"1","expiresInSeconds":60,"metadata":{"\u0000":"v"}}`, "metadata"},
		{"NUL in a new account's grant", "/v1/accounts/u2/grants", `{"amount":"1","source":"bonus","reason":"\u0000"}`, "reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // a retry is refused alike
				r := s.do("POST", tc.path, tc.body).expect(t, 400, "validation-failed")
				errs, _ := r.JSON["errors"].([]any)
				if len(errs) == 0 || errs[0].(map[string]any)["field"] != tc.field {
					t.Fatalf("want a field error on %s: %s", tc.field, r.Raw)
				}
			}
		})
	}
	// Invalid UTF-8, raw or as a lone surrogate escape, never reaches the
	// database (encoding/json would have stored U+FFFD in its place).
	for _, body := range []string{
		"{\"amount\":\"1\",\"reason\":\"a\xffb\"}",
		"{\"amount\":\"1\",\"metadata\":{\"k\":\"\xc3\"}}",
		"{\"amount\":\"1\",\"metadata\":{\"\xed\xa0\x80\":\"v\"}}",
		`{"amount":"1","reason":"\udc00"}`,
	} {
		s.do("POST", "/v1/accounts/u1/spends", body).expect(t, 400, "malformed-request")
	}
	// Nor does a duplicate or differently cased member become a grant.
	s.do("POST", "/v1/accounts/u1/grants", `{"amount":"1","source":"bonus","amount":"1000"}`).expect(t, 400, "validation-failed")
	s.do("POST", "/v1/accounts/u1/grants", `{"AMOUNT":"1000","amount":"1","source":"bonus"}`).expect(t, 400, "validation-failed")
	if after := s.snapshot(); after != before {
		t.Fatalf("the database changed: %s -> %s", before, after)
	}
	s.requireSound()
}
