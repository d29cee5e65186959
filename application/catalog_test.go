package application_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

type catalogEnv struct {
	t       *testing.T
	ctx     context.Context
	clock   *memory.FixedClock
	catalog *application.Catalog
	tenant  domain.TenantID
	other   domain.TenantID
}

func newCatalogEnv(t *testing.T) *catalogEnv {
	store, clock := memory.NewStore(), memory.NewFixedClock(start)
	e := &catalogEnv{t: t, ctx: t.Context(), clock: clock, catalog: application.NewCatalog(store.Products(), clock)}
	for i, name := range []string{"acme", "globex"} {
		n, _ := domain.ParseTenantName(name)
		id, err := store.APIKeys().EnsureTenant(e.ctx, n, domain.TenantID{byte(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			e.tenant = id
		} else {
			e.other = id
		}
	}
	return e
}

func productID(s string) domain.ProductID {
	id, err := domain.ParseProductID(s)
	if err != nil {
		panic(err)
	}
	return id
}

func packSpec(price int64) domain.ProductSpec {
	m, err := domain.NewMoney(price, domain.KRW)
	if err != nil {
		panic(err)
	}
	return domain.ProductSpec{Name: "pack", Price: m, Credits: cr("100")}
}

func (e *catalogEnv) create(tenant domain.TenantID, id string) *domain.Product {
	e.t.Helper()
	p, err := e.catalog.Create(e.ctx, tenant, productID(id), packSpec(1000))
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *catalogEnv) list(active *bool) []string {
	e.t.Helper()
	ps, err := e.catalog.List(e.ctx, e.tenant, active)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.ID().String())
	}
	return out
}

func TestCatalogCreateAndRead(t *testing.T) {
	e := newCatalogEnv(t)
	p := e.create(e.tenant, "pack-b")
	if !p.Active() || !p.CreatedAt().Equal(start) || p.Tenant() != e.tenant {
		t.Fatalf("created %+v", p)
	}
	e.create(e.tenant, "pack-a")
	e.create(e.tenant, "Pack-c") // upper case sorts first, byte for byte
	e.create(e.other, "pack-z")

	if _, err := e.catalog.Create(e.ctx, e.tenant, productID("pack-a"), packSpec(5)); !errors.Is(err, domain.ErrAlreadyExists) {
		t.Fatalf("a second pack-a: %v, want ErrAlreadyExists", err)
	}
	if _, err := e.catalog.Create(e.ctx, e.tenant, productID("pack-d"), packSpec(0)); !errors.Is(err, domain.ErrInvalidInput) {
		t.Fatalf("a free pack: %v, want ErrInvalidInput", err)
	}
	if got := e.list(nil); !slices.Equal(got, []string{"Pack-c", "pack-a", "pack-b"}) {
		t.Fatalf("list: %v", got)
	}
	got, err := e.catalog.Get(e.ctx, e.tenant, productID("pack-b"))
	if err != nil || got.Spec().Price != packSpec(1000).Price {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if _, err := e.catalog.Get(e.ctx, e.tenant, productID("pack-z")); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("another tenant's pack: %v, want ErrNotFound", err)
	}
}

func TestCatalogChange(t *testing.T) {
	e := newCatalogEnv(t)
	e.create(e.tenant, "pack-a")
	e.create(e.tenant, "pack-b")
	e.clock.Advance(time.Hour)

	off, on := false, true
	p, err := e.catalog.Change(e.ctx, e.tenant, productID("pack-a"), domain.ProductChange{Active: &off})
	if err != nil || p.Active() || !p.UpdatedAt().Equal(start.Add(time.Hour)) {
		t.Fatalf("archive: %+v, %v", p, err)
	}
	if got := e.list(&on); !slices.Equal(got, []string{"pack-b"}) {
		t.Fatalf("active: %v", got)
	}
	if got := e.list(&off); !slices.Equal(got, []string{"pack-a"}) {
		t.Fatalf("archived: %v", got)
	}
	if got := e.list(nil); !slices.Equal(got, []string{"pack-a", "pack-b"}) {
		t.Fatalf("all: %v", got)
	}

	// A refused change stores nothing.
	empty := ""
	if _, err := e.catalog.Change(e.ctx, e.tenant, productID("pack-b"), domain.ProductChange{Name: &empty, Active: &off}); !errors.Is(err, domain.ErrInvalidInput) {
		t.Fatalf("empty name: %v, want ErrInvalidInput", err)
	}
	if got, _ := e.catalog.Get(e.ctx, e.tenant, productID("pack-b")); got.Spec().Name != "pack" || !got.Active() {
		t.Fatalf("after a refused change: %+v", got)
	}

	// An empty change reads: the update time stays.
	e.clock.Advance(time.Hour)
	p, err = e.catalog.Change(e.ctx, e.tenant, productID("pack-b"), domain.ProductChange{})
	if err != nil || !p.UpdatedAt().Equal(start) {
		t.Fatalf("empty change: %+v, %v", p, err)
	}

	for name, tenant := range map[string]domain.TenantID{"unknown id": e.tenant, "another tenant": e.other} {
		id := productID("pack-a")
		if name == "unknown id" {
			id = productID("nope")
		}
		if _, err := e.catalog.Change(e.ctx, tenant, id, domain.ProductChange{Active: &on}); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
		if _, err := e.catalog.Change(e.ctx, tenant, id, domain.ProductChange{}); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("%s, empty change: %v, want ErrNotFound", name, err)
		}
	}
}
