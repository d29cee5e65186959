//go:build integration

package e2e

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/creditd/creditd/domain"
)

// TestCatalogOverHTTP: the real service graph serves the catalog on
// PostgreSQL: create, read, partial changes (concurrent ones included),
// archiving, scopes, and no way to delete a pack, over HTTP or in SQL.
func TestCatalogOverHTTP(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	pack := `{"id":"pack-100","name":"100 credits","price":"10000","currency":"KRW","credits":"100","bonusCredits":"10","creditValidityDays":365}`
	created := s.do("POST", "/v1/products", pack, "Idempotency-Key", "").expect(t, http.StatusCreated).JSON
	if created["price"] != "10000" || created["currency"] != "KRW" || created["bonusCredits"] != "10" || created["creditValidityDays"] != float64(365) {
		t.Fatalf("created %v", created)
	}
	s.do("POST", "/v1/products", pack).expect(t, http.StatusConflict, "already-exists")
	s.do("POST", "/v1/products", strings.Replace(pack, `"10000"`, `10000`, 1)).expect(t, http.StatusBadRequest, "validation-failed")

	var wg sync.WaitGroup
	for _, body := range []string{`{"name":"renamed"}`, `{"price":"600","currency":"USD"}`, `{"creditValidityDays":null}`, `{"credits":"7.5"}`} {
		wg.Go(func() {
			s.do("PATCH", "/v1/products/pack-100", body, "Content-Type", "application/json").expect(t, http.StatusOK)
		})
	}
	wg.Wait()
	got := s.do("GET", "/v1/products/pack-100", "").expect(t, http.StatusOK).JSON
	if got["name"] != "renamed" || got["price"] != "600" || got["currency"] != "USD" || got["creditValidityDays"] != nil || got["credits"] != "7.5" {
		t.Fatalf("after concurrent changes: %v", got)
	}

	s.do("PATCH", "/v1/products/pack-100", `{"active":false}`, "Content-Type", "application/json").expect(t, http.StatusOK)
	if items := s.do("GET", "/v1/products?active=true", "").expect(t, http.StatusOK).JSON["items"].([]any); len(items) != 0 {
		t.Fatalf("active packs after archiving: %v", items)
	}
	if items := s.do("GET", "/v1/products", "").expect(t, http.StatusOK).JSON["items"].([]any); len(items) != 1 {
		t.Fatalf("all packs after archiving: %v", items)
	}

	reader := s.newKey("acme", domain.ScopeRead)
	s.do("GET", "/v1/products/pack-100", "", "Authorization", "Bearer "+reader).expect(t, http.StatusOK)
	s.do("PATCH", "/v1/products/pack-100", `{"active":true}`, "Authorization", "Bearer "+reader, "Content-Type", "application/json").
		expect(t, http.StatusForbidden, "forbidden")
	s.do("GET", "/v1/products/pack-100", "", "Authorization", "Bearer "+s.newKey("globex")).expect(t, http.StatusNotFound, "not-found")

	s.do("DELETE", "/v1/products/pack-100", "").expect(t, http.StatusMethodNotAllowed, "method-not-allowed")
	if _, err := s.db.ExecContext(context.Background(), "DELETE FROM products"); err == nil || !strings.Contains(err.Error(), "never deleted") {
		t.Fatalf("DELETE FROM products: %v, want the refusal", err)
	}
	s.do("GET", "/v1/products/pack-100", "").expect(t, http.StatusOK)
}
