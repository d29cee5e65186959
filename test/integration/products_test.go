//go:build integration

package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// TestProductsCannotBeDeleted: orders name the pack they sold, so the
// database itself refuses to delete a pack; archiving (an UPDATE) is the way
// to take one off sale.
func TestProductsCannotBeDeleted(t *testing.T) {
	t.Parallel()
	l := newLedger(t, system.Clock{})
	ctx := context.Background()
	name, _ := domain.ParseTenantName("acme")
	key, err := l.keys.Create(ctx, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	catalog := application.NewCatalog(postgres.NewProductStore(l.db), system.Clock{})
	id, _ := domain.ParseProductID("pack-100")
	price, _ := domain.ParseMoney("10000", domain.KRW)
	if _, err := catalog.Create(ctx, key.Tenant, id, domain.ProductSpec{Name: "100 credits", Price: price, Credits: domain.MustCredits("100")}); err != nil {
		t.Fatal(err)
	}

	for _, stmt := range []string{
		"DELETE FROM products",
		"DELETE FROM products WHERE id = 'pack-100'",
		"TRUNCATE products",
		"TRUNCATE tenants CASCADE",
	} {
		_, err := l.db.ExecContext(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "never deleted") {
			t.Errorf("%s: want the refusal, got %v", stmt, err)
		}
	}
	var n int
	if err := l.db.NewRaw("SELECT count(*) FROM products").Scan(ctx, &n); err != nil || n != 1 {
		t.Fatalf("products after refused deletes: %d, %v", n, err)
	}

	off := false
	p, err := catalog.Change(ctx, key.Tenant, id, domain.ProductChange{Active: &off})
	if err != nil || p.Active() {
		t.Fatalf("archiving: %+v, %v", p, err)
	}
	// The table's own checks stand behind the domain's rules.
	for _, stmt := range []string{
		"UPDATE products SET price_amount = 0",
		"UPDATE products SET price_amount = 1000000000000001",
		"UPDATE products SET currency = 'EUR'",
		"UPDATE products SET credits = 0",
		"UPDATE products SET bonus_credits = -1",
		"UPDATE products SET credit_validity_days = 0",
		"UPDATE products SET credit_validity_days = 3651",
		"UPDATE products SET name = ''",
		"UPDATE products SET id = 'a b'",
	} {
		if _, err := l.db.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "violates check constraint") {
			t.Errorf("%s: want a check violation, got %v", stmt, err)
		}
	}
}
