//go:build integration

package contract

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creditd/creditd/domain"
)

func pid(s string) domain.ProductID {
	id, err := domain.ParseProductID(s)
	if err != nil {
		panic(err)
	}
	return id
}

func money(n int64, c domain.Currency) domain.Money {
	m, err := domain.NewMoney(n, c)
	if err != nil {
		panic(err)
	}
	return m
}

func (f *fixture) newProduct(tenant domain.TenantID, id string, spec domain.ProductSpec) *domain.Product {
	f.t.Helper()
	p, err := domain.NewProduct(tenant, pid(id), spec, now)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) createProduct(tenant domain.TenantID, id string, spec domain.ProductSpec) *domain.Product {
	f.t.Helper()
	p := f.newProduct(tenant, id, spec)
	if err := f.ports.products.Create(f.ctx, p); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) productIDs(tenant domain.TenantID, activeOnly bool) []string {
	f.t.Helper()
	ps, err := f.ports.products.List(f.ctx, tenant, activeOnly)
	if err != nil {
		f.t.Fatal(err)
	}
	out := []string{}
	for _, p := range ps {
		out = append(out, p.ID().String())
	}
	return out
}

// sameProduct compares everything a product says, times to the microsecond
// PostgreSQL keeps.
func sameProduct(a, b *domain.Product) bool {
	sa, sb := a.Spec(), b.Spec()
	sameDays := (sa.CreditValidityDays == nil) == (sb.CreditValidityDays == nil) &&
		(sa.CreditValidityDays == nil || *sa.CreditValidityDays == *sb.CreditValidityDays)
	return a.Tenant() == b.Tenant() && a.ID() == b.ID() && sa.Name == sb.Name && sa.Price == sb.Price &&
		sa.Credits.Equal(sb.Credits) && sa.BonusCredits.Equal(sb.BonusCredits) && sameDays && a.Active() == b.Active() &&
		a.CreatedAt().Equal(b.CreatedAt()) && a.UpdatedAt().Equal(b.UpdatedAt())
}

func pack() domain.ProductSpec {
	days := 365
	return domain.ProductSpec{Name: "100 크레딧", Price: money(10000, domain.KRW), Credits: cr("100.5"), BonusCredits: cr("0.000001"),
		CreditValidityDays: &days}
}

// TestProductStoreRoundTrip: a product reads back as it was stored, per
// tenant, in byte order of ids, filtered by activity.
func TestProductStoreRoundTrip(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		big := pack()
		big.Price, big.Credits, big.BonusCredits, big.CreditValidityDays = money(domain.MaxMoneyAmount, domain.USD),
			cr("999999999999999999.999999"), cr("0"), nil
		stored := []*domain.Product{
			f.createProduct(f.tenant, "pack-b", pack()),
			f.createProduct(f.tenant, "pack-a", big),
			f.createProduct(f.tenant, "Z", pack()), // "C" collation: upper case first
			f.createProduct(f.tenant, strings.Repeat("x", 64), pack()),
		}
		f.createProduct(f.other, "pack-a", pack())

		for _, want := range stored {
			got, err := f.ports.products.Get(f.ctx, f.tenant, want.ID())
			if err != nil || !sameProduct(got, want) {
				t.Fatalf("Get(%s) = %+v, %v; want %+v", want.ID(), got, err, want)
			}
		}
		if _, err := f.ports.products.Get(f.ctx, f.tenant, pid("nope")); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("Get of an unknown id: %v, want ErrNotFound", err)
		}
		if _, err := f.ports.products.Get(f.ctx, domain.TenantID(f.ids.NewID()), pid("pack-a")); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("Get for another tenant: %v, want ErrNotFound", err)
		}
		want := []string{"Z", "pack-a", "pack-b", strings.Repeat("x", 64)}
		if got := f.productIDs(f.tenant, false); !slices.Equal(got, want) {
			t.Fatalf("List = %v, want %v", got, want)
		}
		if got := f.productIDs(f.other, false); !slices.Equal(got, []string{"pack-a"}) {
			t.Fatalf("the other tenant's List = %v", got)
		}
		if got := f.productIDs(domain.TenantID(f.ids.NewID()), false); len(got) != 0 {
			t.Fatalf("an unknown tenant's List = %v", got)
		}

		off := false
		if _, err := f.ports.products.Change(f.ctx, f.tenant, pid("pack-a"), func(p *domain.Product) error {
			return p.Change(domain.ProductChange{Active: &off}, now.Add(time.Second))
		}); err != nil {
			t.Fatal(err)
		}
		if got := f.productIDs(f.tenant, true); !slices.Equal(got, []string{"Z", "pack-b", strings.Repeat("x", 64)}) {
			t.Fatalf("List(activeOnly) = %v", got)
		}
		if got := f.productIDs(f.tenant, false); !slices.Equal(got, want) {
			t.Fatalf("List after archiving = %v, want %v", got, want)
		}
	})
}

func TestProductCreateTwice(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		first := f.createProduct(f.tenant, "pack", pack())
		second := pack()
		second.Name = "another"
		err := f.ports.products.Create(f.ctx, f.newProduct(f.tenant, "pack", second))
		if !errors.Is(err, domain.ErrAlreadyExists) {
			t.Fatalf("a second create of one id: %v, want ErrAlreadyExists", err)
		}
		if got, _ := f.ports.products.Get(f.ctx, f.tenant, pid("pack")); !sameProduct(got, first) {
			t.Fatalf("the refused create changed the product: %+v", got)
		}
		f.createProduct(f.other, "pack", pack()) // ids are per tenant

		stranger := domain.TenantID(f.ids.NewID())
		if err := f.ports.products.Create(f.ctx, f.newProduct(stranger, "pack", pack())); err == nil || domain.IsRejection(err) {
			t.Fatalf("a product of a tenant that does not exist: %v, want a constraint failure", err)
		}
	})
}

func TestProductChange(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		f.createProduct(f.tenant, "pack", pack())
		later := now.Add(time.Minute)
		name, price := "renamed", money(600, domain.USD)
		changed, err := f.ports.products.Change(f.ctx, f.tenant, pid("pack"), func(p *domain.Product) error {
			return p.Change(domain.ProductChange{Name: &name, Price: &price, ClearCreditValidity: true}, later)
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.ports.products.Get(f.ctx, f.tenant, pid("pack"))
		if err != nil || !sameProduct(got, changed) || got.Spec().Name != name || got.Spec().Price != price ||
			got.Spec().CreditValidityDays != nil || !got.UpdatedAt().Equal(later) || !got.CreatedAt().Equal(now) {
			t.Fatalf("after Change: %+v (returned %+v), %v", got, changed, err)
		}

		// fn's failure stores nothing and comes back as it is.
		_, err = f.ports.products.Change(f.ctx, f.tenant, pid("pack"), func(p *domain.Product) error {
			other := "not stored"
			if err := p.Change(domain.ProductChange{Name: &other}, later.Add(time.Minute)); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("Change with a failing fn: %v, want errBoom", err)
		}
		empty := ""
		_, err = f.ports.products.Change(f.ctx, f.tenant, pid("pack"), func(p *domain.Product) error {
			return p.Change(domain.ProductChange{Name: &empty}, later)
		})
		var ferr *domain.InvalidFieldError
		if !errors.Is(err, domain.ErrInvalidInput) || !errors.As(err, &ferr) || ferr.Field != "name" {
			t.Fatalf("Change to an empty name: %v, want the domain's field error", err)
		}
		if after, _ := f.ports.products.Get(f.ctx, f.tenant, pid("pack")); !sameProduct(after, got) {
			t.Fatalf("failed changes changed the product: %+v", after)
		}

		for name, tenant := range map[string]domain.TenantID{"unknown id": f.tenant, "another tenant": f.other} {
			called := false
			id := pid("pack")
			if name == "unknown id" {
				id = pid("nope")
			}
			_, err := f.ports.products.Change(f.ctx, tenant, id, func(*domain.Product) error { called = true; return nil })
			if !errors.Is(err, domain.ErrNotFound) || called {
				t.Errorf("Change of %s: %v (fn called: %v), want ErrNotFound without calling fn", name, err, called)
			}
		}
	})
}

// TestConcurrentProductChangesBothSurvive: while one Change holds the
// product (its fn is running), another of a different field waits, then
// sees the first one's result, so neither update is lost.
func TestConcurrentProductChangesBothSurvive(t *testing.T) {
	contract(t, func(t *testing.T, f *fixture) {
		f.createProduct(f.tenant, "pack", pack())
		inFirst, release := make(chan struct{}), make(chan struct{})
		var wg sync.WaitGroup
		var firstErr, secondErr error
		var secondSaw string
		wg.Go(func() {
			name := "renamed"
			_, firstErr = f.ports.products.Change(f.ctx, f.tenant, pid("pack"), func(p *domain.Product) error {
				close(inFirst)
				<-release
				return p.Change(domain.ProductChange{Name: &name}, now.Add(time.Second))
			})
		})
		<-inFirst
		wg.Go(func() {
			off := false
			_, secondErr = f.ports.products.Change(f.ctx, f.tenant, pid("pack"), func(p *domain.Product) error {
				secondSaw = p.Spec().Name
				return p.Change(domain.ProductChange{Active: &off}, now.Add(2*time.Second))
			})
		})
		time.Sleep(200 * time.Millisecond) // let the second Change reach the lock
		close(release)
		wg.Wait()
		if firstErr != nil || secondErr != nil {
			t.Fatalf("changes failed: %v, %v", firstErr, secondErr)
		}
		got, err := f.ports.products.Get(f.ctx, f.tenant, pid("pack"))
		if err != nil || got.Spec().Name != "renamed" || got.Active() || secondSaw != "renamed" {
			t.Fatalf("after both changes: name %q, active %v (the second saw %q), %v", got.Spec().Name, got.Active(), secondSaw, err)
		}
	})
}
