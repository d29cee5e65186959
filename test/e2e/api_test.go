//go:build integration

package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSpendRace: 64 concurrent clients make 2,000 one-credit spend attempts
// on a wallet holding 1,000 credits.
func TestSpendRace(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	s.do("POST", "/v1/accounts/hot/grants", `{"amount":"1000","source":"paid"}`).expect(t, 201)
	attempts := make(chan int, 2000)
	for i := range 2000 {
		attempts <- i
	}
	close(attempts)
	var spent, refused atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range attempts {
				r := s.do("POST", "/v1/accounts/hot/spends", `{"amount":"1"}`)
				switch {
				case r.Status == 201:
					spent.Add(1)
				case r.Status == 409 && strings.HasSuffix(r.JSON["type"].(string), "/insufficient-credits"):
					refused.Add(1)
				default:
					t.Errorf("unexpected %d: %s", r.Status, r.Raw)
				}
			}
		})
	}
	wg.Wait()
	if spent.Load() != 1000 || refused.Load() != 1000 {
		t.Fatalf("%d spent, %d refused; want 1000 and 1000", spent.Load(), refused.Load())
	}
	acct := s.do("GET", "/v1/accounts/hot", "").expect(t, 200)
	if acct.JSON["balance"] != "0" || acct.JSON["available"] != "0" {
		t.Fatalf("account after the race: %s", acct.Raw)
	}
	s.requireSound()
}

func TestIdempotentRequests(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	s.do("POST", "/v1/accounts/u1/grants", `{"amount":"10","source":"bonus"}`).expect(t, 201)

	first := s.do("POST", "/v1/accounts/u1/spends", `{"amount":"4"}`, "Idempotency-Key", "spend-1").expect(t, 201)
	again := s.do("POST", "/v1/accounts/u1/spends", `{"amount":"4"}`, "Idempotency-Key", "spend-1").expect(t, 201)
	if string(first.Raw) != string(again.Raw) {
		t.Fatalf("replay differs:\n%s\n%s", first.Raw, again.Raw)
	}
	s.do("POST", "/v1/accounts/u1/spends", `{"amount":"5"}`, "Idempotency-Key", "spend-1").expect(t, 422, "idempotency-key-reused")

	// A rejection is remembered: granting more does not turn the retry into a success.
	s.do("POST", "/v1/accounts/u1/spends", `{"amount":"50"}`, "Idempotency-Key", "big").expect(t, 409, "insufficient-credits")
	s.do("POST", "/v1/accounts/u1/grants", `{"amount":"100","source":"paid"}`).expect(t, 201)
	s.do("POST", "/v1/accounts/u1/spends", `{"amount":"50"}`, "Idempotency-Key", "big").expect(t, 409, "insufficient-credits")

	// Concurrent requests with one key: exactly one executes.
	var wg sync.WaitGroup
	bodies := make([]string, 16)
	for i := range bodies {
		wg.Go(func() {
			bodies[i] = string(s.do("POST", "/v1/accounts/u1/spends", `{"amount":"1"}`, "Idempotency-Key", "burst").expect(t, 201).Raw)
		})
	}
	wg.Wait()
	for _, b := range bodies {
		if b != bodies[0] {
			t.Fatalf("concurrent replies differ:\n%s\n%s", b, bodies[0])
		}
	}
	acct := s.do("GET", "/v1/accounts/u1", "").expect(t, 200)
	if acct.JSON["balance"] != "105" { // 10 - 4 + 100 - 1
		t.Fatalf("balance %v, want 105", acct.JSON["balance"])
	}
	s.requireSound()
}

func TestHoldsOverHTTP(t *testing.T) {
	t.Parallel()
	s := start(t, map[string]string{"CREDITD_SWEEP_INTERVAL": "100ms"})
	s.do("POST", "/v1/accounts/u1/grants", `{"amount":"10","source":"paid"}`).expect(t, 201)
	hold := s.do("POST", "/v1/accounts/u1/holds", `{"amount":"6","expiresInSeconds":60}`).expect(t, 201)
	id := hold.JSON["id"].(string)
	if hold.JSON["status"] != "ACTIVE" || hold.JSON["remaining"] != "6" {
		t.Fatalf("new hold: %s", hold.Raw)
	}
	// Held credits cannot be spent.
	s.do("POST", "/v1/accounts/u1/spends", `{"amount":"5"}`).expect(t, 409, "insufficient-credits")
	c1 := s.do("POST", "/v1/holds/"+id+"/capture", `{"amount":"2"}`).expect(t, 200)
	if c1.JSON["hold"].(map[string]any)["status"] != "PARTIALLY_CAPTURED" {
		t.Fatalf("after first capture: %s", c1.Raw)
	}
	s.do("POST", "/v1/holds/"+id+"/capture", `{"amount":"5"}`).expect(t, 409, "capture-exceeds-hold")
	c2 := s.do("POST", "/v1/holds/"+id+"/capture", `{"amount":"1.5"}`).expect(t, 200)
	if h := c2.JSON["hold"].(map[string]any); h["captured"] != "3.5" || h["remaining"] != "2.5" {
		t.Fatalf("after second capture: %s", c2.Raw)
	}
	rel := s.do("POST", "/v1/holds/"+id+"/release", `{}`).expect(t, 200)
	if rel.JSON["status"] != "RELEASED" {
		t.Fatalf("release: %s", rel.Raw)
	}
	s.do("POST", "/v1/holds/"+id+"/capture", `{"amount":"1"}`).expect(t, 409, "hold-not-capturable")
	acct := s.do("GET", "/v1/accounts/u1", "").expect(t, 200)
	if acct.JSON["balance"] != "6.5" || acct.JSON["held"] != "0" {
		t.Fatalf("account: %s", acct.Raw)
	}

	// A hold expires on its own: the sweep frees it in the database.
	short := s.do("POST", "/v1/accounts/u1/holds", `{"amount":"4","expiresInSeconds":1}`).expect(t, 201)
	shortID := short.JSON["id"].(string)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var status string
		if err := s.db.NewRaw("SELECT status FROM holds WHERE id = ?::uuid", shortID).Scan(t.Context(), &status); err != nil {
			t.Fatal(err)
		}
		if status == "EXPIRED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hold still %s 10s after it was due", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	acct = s.do("GET", "/v1/accounts/u1", "").expect(t, 200)
	if acct.JSON["held"] != "0" || acct.JSON["available"] != "6.5" {
		t.Fatalf("after expiry: %s", acct.Raw)
	}
	s.requireSound()
}

// TestExpiredHoldFreesCreditsAtOnce: with no sweep running, a hold past its
// expiry no longer counts as held, and a spend can use its credits.
func TestExpiredHoldFreesCreditsAtOnce(t *testing.T) {
	t.Parallel()
	s := start(t, map[string]string{"CREDITD_SWEEP_INTERVAL": "0"})
	s.do("POST", "/v1/accounts/u1/grants", `{"amount":"10","source":"paid"}`).expect(t, 201)
	hold := s.do("POST", "/v1/accounts/u1/holds", `{"amount":"8","expiresInSeconds":1}`).expect(t, 201)
	s.do("POST", "/v1/accounts/u1/spends", `{"amount":"5"}`).expect(t, 409, "insufficient-credits")
	time.Sleep(1100 * time.Millisecond)
	if acct := s.do("GET", "/v1/accounts/u1", "").expect(t, 200); acct.JSON["held"] != "0" || acct.JSON["available"] != "10" {
		t.Fatalf("after the hold's expiry: %s", acct.Raw)
	}
	s.do("POST", "/v1/accounts/u1/spends", `{"amount":"5"}`).expect(t, 201)
	got := s.do("GET", "/v1/holds/"+hold.JSON["id"].(string), "").expect(t, 200)
	if got.JSON["status"] != "EXPIRED" || got.JSON["remaining"] != "0" {
		t.Fatalf("hold after the spend settled it: %s", got.Raw)
	}
	var stored string
	if err := s.db.NewRaw("SELECT status FROM holds WHERE id = ?::uuid", hold.JSON["id"]).Scan(t.Context(), &stored); err != nil || stored != "EXPIRED" {
		t.Fatalf("stored hold status %q, %v: the spend should have expired it", stored, err)
	}
	s.requireSound()
}

func TestLotsOverHTTP(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	soon := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
	later := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	s.do("POST", "/v1/accounts/u1/grants", `{"amount":"5","source":"paid"}`).expect(t, 201)
	s.do("POST", "/v1/accounts/u1/grants", `{"amount":"3","source":"bonus","expiresAt":"`+later+`"}`).expect(t, 201)
	s.do("POST", "/v1/accounts/u1/grants", `{"amount":"2","source":"bonus","expiresAt":"`+soon+`"}`).expect(t, 201)
	s.do("POST", "/v1/accounts/u1/grants", `{"amount":"1","source":"paid","priority":10}`).expect(t, 201)
	// Order: priority 10 first, then soonest expiry, then the later one, then never-expiring.
	spend := s.do("POST", "/v1/accounts/u1/spends", `{"amount":"4"}`).expect(t, 201)
	postings := spend.JSON["postings"].([]any)
	var took []string
	for _, p := range postings {
		if p := p.(map[string]any); p["accountType"] == "wallet" {
			took = append(took, p["amount"].(string))
		}
	}
	if strings.Join(took, ",") != "-1,-2,-1" {
		t.Fatalf("consumption %v, want -1,-2,-1: %s", took, spend.Raw)
	}
	// A lot that expires unspent leaves the balance at once and is swept by the next change.
	soon = time.Now().Add(1 * time.Second).UTC().Format(time.RFC3339Nano)
	s.do("POST", "/v1/accounts/u1/grants", `{"amount":"7","source":"bonus","expiresAt":"`+soon+`","priority":0}`).expect(t, 201)
	time.Sleep(1500 * time.Millisecond)
	acct := s.do("GET", "/v1/accounts/u1", "").expect(t, 200)
	if acct.JSON["balance"] != "7" { // 5 + 3 + 2 + 1 - 4; the expired 7 are gone
		t.Fatalf("after expiry: %s", acct.Raw)
	}
	s.do("POST", "/v1/accounts/u1/spends", `{"amount":"8"}`).expect(t, 409, "insufficient-credits")
	s.do("POST", "/v1/accounts/u1/spends", `{"amount":"7"}`).expect(t, 201) // sweeps the expiry, then spends
	hist := s.do("GET", "/v1/accounts/u1/transactions?limit=2", "").expect(t, 200)
	items := hist.JSON["items"].([]any)
	if items[0].(map[string]any)["type"] != "SPEND" || items[1].(map[string]any)["type"] != "EXPIRATION" {
		t.Fatalf("history: %s", hist.Raw)
	}
	if items[1].(map[string]any)["amount"] != "7" || hist.JSON["nextCursor"] == nil {
		t.Fatalf("history: %s", hist.Raw)
	}
	next := s.do("GET", "/v1/accounts/u1/transactions?limit=200&cursor="+url.QueryEscape(hist.JSON["nextCursor"].(string)), "").expect(t, 200)
	if n := len(next.JSON["items"].([]any)); n != 6 { // the grant of 7, the spend of 4, 4 grants
		t.Fatalf("second page has %d items: %s", n, next.Raw)
	}
	s.requireSound()
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	s.do("POST", "/v1/accounts/shared-id/grants", `{"amount":"10","source":"paid"}`).expect(t, 201)
	hold := s.do("POST", "/v1/accounts/shared-id/holds", `{"amount":"1","expiresInSeconds":60}`).expect(t, 201)
	holdID := hold.JSON["id"].(string)
	before := s.snapshot()

	s.key = s.newKey("globex")
	s.do("GET", "/v1/accounts/shared-id", "").expect(t, 404, "not-found")
	s.do("GET", "/v1/accounts/shared-id/transactions", "").expect(t, 404, "not-found")
	s.do("POST", "/v1/accounts/shared-id/spends", `{"amount":"1"}`).expect(t, 404, "not-found")
	s.do("POST", "/v1/accounts/shared-id/holds", `{"amount":"1","expiresInSeconds":60}`).expect(t, 404, "not-found")
	s.do("GET", "/v1/holds/"+holdID, "").expect(t, 404, "not-found")
	s.do("POST", "/v1/holds/"+holdID+"/capture", `{"amount":"1"}`).expect(t, 404, "not-found")
	s.do("POST", "/v1/holds/"+holdID+"/release", `{}`).expect(t, 404, "not-found")
	// The rejections above are remembered per key (idempotency records); nothing else changed.
	if after := s.snapshot(); stripIdem(after) != stripIdem(before) {
		t.Fatalf("tenant B changed tenant A's data:\n%s\n%s", before, after)
	}
	// Tenant B's own account of the same id is separate.
	s.do("POST", "/v1/accounts/shared-id/grants", `{"amount":"3","source":"bonus"}`).expect(t, 201)
	if got := s.do("GET", "/v1/accounts/shared-id", "").expect(t, 200); got.JSON["balance"] != "3" {
		t.Fatalf("tenant B sees %s", got.Raw)
	}
	s.requireSound()
}

// stripIdem drops the idempotency and key counts from a snapshot.
func stripIdem(snapshot string) string {
	f := strings.Fields(snapshot)
	return strings.Join(f[:8], " ")
}

// TestBadInputChangesNothing: every malformed request gets a 4xx problem and
// the database is exactly as before.
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	s.do("POST", "/v1/accounts/u1/grants", `{"amount":"10","source":"paid"}`).expect(t, 201)
	hold := s.do("POST", "/v1/accounts/u1/holds", `{"amount":"1","expiresInSeconds":60}`).expect(t, 201)
	holdID := hold.JSON["id"].(string)
	readOnly := s.newKey("acme", mustScope(t, "credits:read"))
	before := s.snapshot()

	big := `{"amount":"1","reason":"` + strings.Repeat("x", 70000) + `"}`
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
	}{
		{"zero amount", "POST", "/v1/accounts/u1/spends", `{"amount":"0"}`, nil, 400},
		{"negative amount", "POST", "/v1/accounts/u1/spends", `{"amount":"-1"}`, nil, 400},
		{"non-numeric amount", "POST", "/v1/accounts/u1/spends", `{"amount":"ten"}`, nil, 400},
		{"over-precise amount", "POST", "/v1/accounts/u1/spends", `{"amount":"0.0000001"}`, nil, 400},
		{"exponent amount", "POST", "/v1/accounts/u1/spends", `{"amount":"1e3"}`, nil, 400},
		{"number instead of string", "POST", "/v1/accounts/u1/spends", `{"amount":1}`, nil, 400},
		{"huge amount", "POST", "/v1/accounts/u1/grants", `{"amount":"1000000000000000000","source":"paid"}`, nil, 400},
		{"malformed JSON", "POST", "/v1/accounts/u1/spends", `{"amount":`, nil, 400},
		{"trailing data", "POST", "/v1/accounts/u1/spends", `{"amount":"1"} {}`, nil, 400},
		{"unknown field", "POST", "/v1/accounts/u1/spends", `{"amount":"1","amout":"2"}`, nil, 400},
		{"missing amount", "POST", "/v1/accounts/u1/spends", `{}`, nil, 400},
		{"bad source", "POST", "/v1/accounts/u1/grants", `{"amount":"1","source":"gift"}`, nil, 400},
		{"past expiry", "POST", "/v1/accounts/u1/grants", `{"amount":"1","source":"paid","expiresAt":"2001-01-01T00:00:00Z"}`, nil, 400},
		{"bad priority", "POST", "/v1/accounts/u1/grants", `{"amount":"1","source":"paid","priority":101}`, nil, 400},
		{"hold too long", "POST", "/v1/accounts/u1/holds", `{"amount":"1","expiresInSeconds":99999999}`, nil, 400},
		{"hold without expiry", "POST", "/v1/accounts/u1/holds", `{"amount":"1"}`, nil, 400},
		{"capture zero", "POST", "/v1/holds/" + holdID + "/capture", `{"amount":"0"}`, nil, 400},
		{"bad hold id", "POST", "/v1/holds/not-a-uuid/capture", `{"amount":"1"}`, nil, 400},
		{"too long account id", "POST", "/v1/accounts/" + strings.Repeat("a", 129) + "/grants", `{"amount":"1","source":"paid"}`, nil, 400},
		{"oversized body", "POST", "/v1/accounts/u1/spends", big, nil, 413},
		{"no idempotency key", "POST", "/v1/accounts/u1/spends", `{"amount":"1"}`, []string{"Idempotency-Key", ""}, 400},
		{"wrong content type", "POST", "/v1/accounts/u1/spends", `{"amount":"1"}`, []string{"Content-Type", "text/plain"}, 415},
		{"missing key", "POST", "/v1/accounts/u1/spends", `{"amount":"1"}`, []string{"Authorization", ""}, 401},
		{"wrong key", "POST", "/v1/accounts/u1/spends", `{"amount":"1"}`, []string{"Authorization", "Bearer cdk_nope"}, 401},
		{"not a bearer", "POST", "/v1/accounts/u1/spends", `{"amount":"1"}`, []string{"Authorization", "Basic Zm9vOmJhcg=="}, 401},
		{"read-only key", "POST", "/v1/accounts/u1/spends", `{"amount":"1"}`, []string{"Authorization", "Bearer " + readOnly}, 403},
		{"bad cursor", "GET", "/v1/accounts/u1/transactions?cursor=bm90LWFuLWlk", "", nil, 400},
		{"bad limit", "GET", "/v1/accounts/u1/transactions?limit=0", "", nil, 400},
	}
	for _, c := range cases {
		r := s.do(c.method, c.path, c.body, c.headers...)
		if r.Status != c.status || r.Header.Get("Content-Type") != "application/problem+json" || r.JSON["type"] == nil {
			t.Errorf("%s: got %d %s %s, want %d problem", c.name, r.Status, r.Header.Get("Content-Type"), r.Raw, c.status)
		}
	}
	if after := s.snapshot(); after != before {
		t.Fatalf("bad input changed the database:\nbefore %s\nafter  %s", before, after)
	}
	s.requireSound()
}

func TestOperationalEndpoints(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	for path, want := range map[string]string{"/healthz": "", "/readyz": "", "/metrics": "go_goroutines", "/openapi.yaml": "/v1/holds/{holdId}/capture"} {
		resp, err := http.Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d, want 200 containing %q", path, resp.StatusCode, want)
		}
	}
}
