//go:build integration

package e2e

import "testing"

// TestReleaseNeedsNoBody: POST .../release as curl -X POST sends it, with no
// body and no Content-Type, releases the hold; a capture still needs its body.
func TestReleaseNeedsNoBody(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	s.do("POST", "/v1/accounts/u1/grants", `{"amount":"10","source":"bonus"}`).expect(t, 201)
	hold := s.do("POST", "/v1/accounts/u1/holds", `{"amount":"4","expiresInSeconds":600}`).expect(t, 201).JSON["id"].(string)
	before := s.snapshot()
	s.do("POST", "/v1/holds/"+hold+"/capture", "", "Content-Type", "").expect(t, 400, "malformed-request")
	if after := s.snapshot(); after != before {
		t.Fatalf("a refused capture changed the database: %s -> %s", before, after)
	}
	r := s.do("POST", "/v1/holds/"+hold+"/release", "", "Content-Type", "").expect(t, 200)
	if r.JSON["status"] != "RELEASED" {
		t.Fatalf("release: %s", r.Raw)
	}
	if acct := s.do("GET", "/v1/accounts/u1", "").expect(t, 200); acct.JSON["available"] != "10" {
		t.Fatalf("after the release: %s", acct.Raw)
	}
	s.requireSound()
}
