package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

const pack100 = `{"id":"pack-100","name":"100 credits","price":"10000","currency":"KRW","credits":"100","bonusCredits":"10","creditValidityDays":365}`

func (h *harness) patch(path, body string, opts ...reqOption) *httpRecorder {
	h.t.Helper()
	return h.do(http.MethodPatch, path, body, opts...)
}

func TestProductLifecycle(t *testing.T) {
	h := newHarness(t)
	created := h.must(h.post("/v1/products", pack100, withoutHeader("Idempotency-Key")), http.StatusCreated)
	assert.Equal(t, map[string]any{"id": "pack-100", "name": "100 credits", "price": "10000", "currency": "KRW",
		"credits": "100", "bonusCredits": "10", "creditValidityDays": float64(365), "active": true,
		"createdAt": "2026-03-01T09:00:00Z", "updatedAt": "2026-03-01T09:00:00Z"}, created)

	// The smallest pack: no bonus, credits that never expire, a price in cents.
	usd := h.must(h.post("/v1/products", `{"id":"a.usd_6","name":"Starter","price":"600","currency":"USD","credits":"0.5"}`), http.StatusCreated)
	assert.Equal(t, "600", usd["price"])
	assert.Equal(t, "0", usd["bonusCredits"])
	assert.Nil(t, usd["creditValidityDays"])
	assert.Contains(t, usd, "creditValidityDays", "null, not left out")

	assert.Equal(t, created, h.must(h.get("/v1/products/pack-100"), http.StatusOK))
	list := h.must(h.get("/v1/products"), http.StatusOK)
	assert.Equal(t, []any{"a.usd_6", "pack-100"}, ids(list), "id order, byte for byte")

	// A second create with the same id changes nothing, whatever its body.
	assertProblem(t, h.post("/v1/products", pack100), http.StatusConflict, "already-exists")
	assertProblem(t, h.post("/v1/products", strings.Replace(pack100, `"10000"`, `"1"`, 1)), http.StatusConflict, "already-exists")
	assert.Equal(t, created, h.must(h.get("/v1/products/pack-100"), http.StatusOK))

	// Partial changes, one field at a time, each keeping the others.
	h.clock.Advance(time.Minute)
	changed := h.must(h.patch("/v1/products/pack-100", `{"name":"100 credits (sale)","price":"9000","currency":"KRW"}`), http.StatusOK)
	assert.Equal(t, "100 credits (sale)", changed["name"])
	assert.Equal(t, "9000", changed["price"])
	assert.Equal(t, "10", changed["bonusCredits"])
	assert.Equal(t, float64(365), changed["creditValidityDays"])
	assert.Equal(t, "2026-03-01T09:00:00Z", changed["createdAt"])
	assert.Equal(t, "2026-03-01T09:01:00Z", changed["updatedAt"])
	changed = h.must(h.patch("/v1/products/pack-100", `{"creditValidityDays":null,"bonusCredits":"0","credits":"120.5"}`), http.StatusOK)
	assert.Nil(t, changed["creditValidityDays"])
	assert.Equal(t, "0", changed["bonusCredits"])
	assert.Equal(t, "120.5", changed["credits"])
	assert.Equal(t, "9000", changed["price"])
	changed = h.must(h.patch("/v1/products/pack-100", `{"creditValidityDays":30}`), http.StatusOK)
	assert.Equal(t, float64(30), changed["creditValidityDays"])

	// An empty change is a read: not even the update time moves.
	h.clock.Advance(time.Minute)
	assert.Equal(t, changed, h.must(h.patch("/v1/products/pack-100", `{}`), http.StatusOK))

	// Archive: gone from the active list, still readable, its id still taken.
	archived := h.must(h.patch("/v1/products/pack-100", `{"active":false}`), http.StatusOK)
	assert.Equal(t, false, archived["active"])
	assert.Equal(t, []any{"a.usd_6"}, ids(h.must(h.get("/v1/products?active=true"), http.StatusOK)))
	assert.Equal(t, []any{"pack-100"}, ids(h.must(h.get("/v1/products?active=false"), http.StatusOK)))
	assert.Equal(t, []any{"a.usd_6", "pack-100"}, ids(h.must(h.get("/v1/products"), http.StatusOK)))
	assert.Equal(t, archived, h.must(h.get("/v1/products/pack-100"), http.StatusOK))
	assertProblem(t, h.post("/v1/products", pack100), http.StatusConflict, "already-exists")
	// ... and back on sale.
	assert.Equal(t, true, h.must(h.patch("/v1/products/pack-100", `{"active":true}`), http.StatusOK)["active"])
	assert.Equal(t, []any{"a.usd_6", "pack-100"}, ids(h.must(h.get("/v1/products?active=true"), http.StatusOK)))
}

func ids(list map[string]any) []any {
	out := []any{}
	for _, item := range list["items"].([]any) {
		out = append(out, item.(map[string]any)["id"])
	}
	return out
}

func TestProductsAreScopedAndTenantPrivate(t *testing.T) {
	h := newHarness(t)
	h.must(h.post("/v1/products", pack100), http.StatusCreated)
	creditsOnly := h.issueKey("alpha", domain.ScopeRead, domain.ScopeWrite)
	ordersOnly := h.issueKey("alpha", domain.ScopeOrdersWrite)

	// Any key of the tenant reads the catalog.
	for _, key := range []string{h.readOnlyA, h.writeOnlyA, creditsOnly, ordersOnly} {
		h.must(h.get("/v1/products", withKey(key)), http.StatusOK)
		h.must(h.get("/v1/products/pack-100", withKey(key)), http.StatusOK)
	}
	// Only catalog:write changes it.
	for _, key := range []string{h.readOnlyA, h.writeOnlyA, creditsOnly, ordersOnly} {
		assertProblem(t, h.post("/v1/products", strings.Replace(pack100, "pack-100", "pack-x", 1), withKey(key)), http.StatusForbidden, "forbidden")
		assertProblem(t, h.patch("/v1/products/pack-100", `{"active":false}`, withKey(key)), http.StatusForbidden, "forbidden")
	}
	catalogOnly := h.issueKey("alpha", domain.ScopeCatalogWrite)
	h.must(h.patch("/v1/products/pack-100", `{"name":"renamed"}`, withKey(catalogOnly)), http.StatusOK)
	assertProblem(t, h.get("/v1/products", withoutHeader("Authorization")), http.StatusUnauthorized, "unauthorized")

	// Another tenant sees none of it, and its own id space is separate.
	assert.Empty(t, ids(h.must(h.get("/v1/products", withKey(h.keyB)), http.StatusOK)))
	p := assertProblem(t, h.get("/v1/products/pack-100", withKey(h.keyB)), http.StatusNotFound, "not-found")
	assert.Equal(t, "No such account, hold, product, order, webhook endpoint or delivery for your tenant.", p["detail"])
	assertProblem(t, h.patch("/v1/products/pack-100", `{"active":false}`, withKey(h.keyB)), http.StatusNotFound, "not-found")
	h.must(h.post("/v1/products", pack100, withKey(h.keyB)), http.StatusCreated)
	assert.Equal(t, "renamed", h.must(h.get("/v1/products/pack-100"), http.StatusOK)["name"])
	assertProblem(t, h.get("/v1/products/nope"), http.StatusNotFound, "not-found")
}

// TestConcurrentProductChangesAllSurvive: PATCHes of different fields at the
// same time each keep the others' changes.
func TestConcurrentProductChangesAllSurvive(t *testing.T) {
	h := newHarness(t)
	h.must(h.post("/v1/products", pack100), http.StatusCreated)
	bodies := []string{`{"name":"renamed"}`, `{"price":"5","currency":"JPY"}`, `{"credits":"7"}`, `{"bonusCredits":"8"}`,
		`{"creditValidityDays":9}`, `{"active":false}`}
	var wg sync.WaitGroup
	for _, b := range bodies {
		wg.Go(func() { h.must(h.patch("/v1/products/pack-100", b), http.StatusOK) })
	}
	wg.Wait()
	got := h.must(h.get("/v1/products/pack-100"), http.StatusOK)
	for k, want := range map[string]any{"name": "renamed", "price": "5", "currency": "JPY", "credits": "7", "bonusCredits": "8",
		"creditValidityDays": float64(9), "active": false} {
		assert.Equal(t, want, got[k], k)
	}
}

func TestBadProductInputIsRefusedAndChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.must(h.post("/v1/products", pack100), http.StatusCreated)
	before := h.get("/v1/products").Body.String()
	const products, pack = "/v1/products", "/v1/products/pack-100"
	with := func(member, value string) string { // pack100 with one member replaced ("" drops it)
		body := strings.Replace(pack100, `"pack-100"`, `"pack-new"`, 1)
		for _, m := range []string{`"name":"100 credits"`, `"price":"10000"`, `"currency":"KRW"`, `"credits":"100"`,
			`"bonusCredits":"10"`, `"creditValidityDays":365`} {
			if strings.HasPrefix(m, `"`+member+`":`) {
				repl := ""
				if value != "" {
					repl = `"` + member + `":` + value
				}
				body = strings.Replace(body, m, repl, 1)
			}
		}
		return strings.NewReplacer(",,", ",", "{,", "{", ",}", "}").Replace(body)
	}

	cases := []struct {
		name         string
		method, path string
		body         string
		opts         []reqOption
		status       int
		slug, field  string
	}{
		{"price with a fraction", "POST", products, with("price", `"10000.5"`), nil, 400, "validation-failed", "price"},
		{"price negative", "POST", products, with("price", `"-1"`), nil, 400, "validation-failed", "price"},
		{"price exponent", "POST", products, with("price", `"1e4"`), nil, 400, "validation-failed", "price"},
		{"price as a number", "POST", products, with("price", `10000`), nil, 400, "validation-failed", "price"},
		{"price as a float", "POST", products, with("price", `10000.0`), nil, 400, "validation-failed", "price"},
		{"price zero", "POST", products, with("price", `"0"`), nil, 400, "validation-failed", "price"},
		{"price leading zero", "POST", products, with("price", `"010"`), nil, 400, "validation-failed", "price"},
		{"price with plus", "POST", products, with("price", `"+1"`), nil, 400, "validation-failed", "price"},
		{"price with space", "POST", products, with("price", `" 1"`), nil, 400, "validation-failed", "price"},
		{"price too large", "POST", products, with("price", `"1000000000000001"`), nil, 400, "validation-failed", "price"},
		{"price beyond int64", "POST", products, with("price", `"99999999999999999999"`), nil, 400, "validation-failed", "price"},
		{"price missing", "POST", products, with("price", ""), nil, 400, "validation-failed", "price"},
		{"currency unknown", "POST", products, with("currency", `"EUR"`), nil, 400, "validation-failed", "currency"},
		{"currency lower case", "POST", products, with("currency", `"krw"`), nil, 400, "validation-failed", "currency"},
		{"currency missing", "POST", products, with("currency", ""), nil, 400, "validation-failed", "currency"},
		{"name missing", "POST", products, with("name", ""), nil, 400, "validation-failed", "name"},
		{"name null", "POST", products, with("name", "null"), nil, 400, "validation-failed", "name"},
		{"name with NUL", "POST", products, with("name", `"a\u0000b"`), nil, 400, "validation-failed", "name"},
		{"name with a newline", "POST", products, with("name", `"a\nb"`), nil, 400, "validation-failed", "name"},
		{"name blank", "POST", products, with("name", `" "`), nil, 400, "validation-failed", "name"},
		{"name padded", "POST", products, with("name", `" pack "`), nil, 400, "validation-failed", "name"},
		{"name too long", "POST", products, with("name", `"`+strings.Repeat("n", 101)+`"`), nil, 400, "validation-failed", "name"},
		{"name not a string", "POST", products, with("name", `7`), nil, 400, "validation-failed", "name"},
		{"credits zero", "POST", products, with("credits", `"0"`), nil, 400, "validation-failed", "credits"},
		{"credits negative", "POST", products, with("credits", `"-1"`), nil, 400, "validation-failed", "credits"},
		{"credits as a number", "POST", products, with("credits", `100`), nil, 400, "validation-failed", "credits"},
		{"credits over-precise", "POST", products, with("credits", `"0.0000001"`), nil, 400, "validation-failed", "credits"},
		{"credits missing", "POST", products, with("credits", ""), nil, 400, "validation-failed", "credits"},
		{"bonus negative", "POST", products, with("bonusCredits", `"-1"`), nil, 400, "validation-failed", "bonusCredits"},
		{"bonus exponent", "POST", products, with("bonusCredits", `"1e1"`), nil, 400, "validation-failed", "bonusCredits"},
		{"validity zero", "POST", products, with("creditValidityDays", `0`), nil, 400, "validation-failed", "creditValidityDays"},
		{"validity too long", "POST", products, with("creditValidityDays", `3651`), nil, 400, "validation-failed", "creditValidityDays"},
		{"validity fractional", "POST", products, with("creditValidityDays", `1.5`), nil, 400, "validation-failed", "creditValidityDays"},
		{"validity string", "POST", products, with("creditValidityDays", `"365"`), nil, 400, "validation-failed", "creditValidityDays"},
		{"id missing", "POST", products, strings.Replace(pack100, `"id":"pack-100",`, "", 1), nil, 400, "validation-failed", "id"},
		{"id with a slash", "POST", products, strings.Replace(pack100, `"pack-100"`, `"pack/100"`, 1), nil, 400, "validation-failed", "id"},
		{"id with NUL", "POST", products, strings.Replace(pack100, `"pack-100"`, `"pack\u0000"`, 1), nil, 400, "validation-failed", "id"},
		{"id too long", "POST", products, strings.Replace(pack100, `"pack-100"`, `"`+strings.Repeat("p", 65)+`"`, 1), nil, 400, "validation-failed", "id"},
		{"duplicate price", "POST", products, strings.Replace(pack100, `"price":"10000"`, `"price":"10000","price":"1"`, 1), nil, 400, "validation-failed", "price"},
		{"unknown field", "POST", products, strings.Replace(pack100, `"credits"`, `"active":true,"credits"`, 1), nil, 400, "validation-failed", "active"},
		{"field in another case", "POST", products, strings.Replace(pack100, `"price"`, `"Price"`, 1), nil, 400, "validation-failed", "Price"},
		{"empty create body", "POST", products, ``, nil, 400, "malformed-request", ""},
		{"create body an array", "POST", products, `[` + pack100 + `]`, nil, 400, "malformed-request", ""},
		{"create as text", "POST", products, pack100, []reqOption{withHeader("Content-Type", "text/plain")}, 415, "unsupported-media-type", ""},
		{"create body too large", "POST", products, with("name", `"`+strings.Repeat("n", 70<<10)+`"`), nil, 413, "request-too-large", ""},

		{"patch unknown field", "PATCH", pack, `{"id":"other"}`, nil, 400, "validation-failed", "id"},
		{"patch misspelt field", "PATCH", pack, `{"actve":false}`, nil, 400, "validation-failed", "actve"},
		{"patch duplicate field", "PATCH", pack, `{"active":true,"active":false}`, nil, 400, "validation-failed", "active"},
		{"patch price alone", "PATCH", pack, `{"price":"1"}`, nil, 400, "validation-failed", "currency"},
		{"patch currency alone", "PATCH", pack, `{"currency":"USD"}`, nil, 400, "validation-failed", "price"},
		{"patch price fraction", "PATCH", pack, `{"price":"1.5","currency":"KRW"}`, nil, 400, "validation-failed", "price"},
		{"patch price number", "PATCH", pack, `{"price":1,"currency":"KRW"}`, nil, 400, "validation-failed", "price"},
		{"patch price zero", "PATCH", pack, `{"price":"0","currency":"KRW"}`, nil, 400, "validation-failed", "price"},
		{"patch currency unknown", "PATCH", pack, `{"price":"1","currency":"XXX"}`, nil, 400, "validation-failed", "currency"},
		{"patch name null", "PATCH", pack, `{"name":null}`, nil, 400, "validation-failed", "name"},
		{"patch price null", "PATCH", pack, `{"price":null,"currency":"KRW"}`, nil, 400, "validation-failed", "price"},
		{"patch active null", "PATCH", pack, `{"active":null}`, nil, 400, "validation-failed", "active"},
		{"patch bonus null", "PATCH", pack, `{"bonusCredits":null}`, nil, 400, "validation-failed", "bonusCredits"},
		{"patch active string", "PATCH", pack, `{"active":"false"}`, nil, 400, "validation-failed", "active"},
		{"patch name NUL", "PATCH", pack, `{"name":"\u0000"}`, nil, 400, "validation-failed", "name"},
		{"patch name empty", "PATCH", pack, `{"name":""}`, nil, 400, "validation-failed", "name"},
		{"patch credits zero", "PATCH", pack, `{"credits":"0"}`, nil, 400, "validation-failed", "credits"},
		{"patch bonus negative", "PATCH", pack, `{"bonusCredits":"-0.5"}`, nil, 400, "validation-failed", "bonusCredits"},
		{"patch validity zero", "PATCH", pack, `{"creditValidityDays":0}`, nil, 400, "validation-failed", "creditValidityDays"},
		{"patch validity string", "PATCH", pack, `{"creditValidityDays":"30"}`, nil, 400, "validation-failed", "creditValidityDays"},
		{"patch empty body", "PATCH", pack, ``, nil, 400, "malformed-request", ""},
		{"patch null body", "PATCH", pack, `null`, nil, 400, "malformed-request", ""},
		{"patch trailing data", "PATCH", pack, `{}{}`, nil, 400, "malformed-request", ""},
		{"patch as text", "PATCH", pack, `{}`, []reqOption{withHeader("Content-Type", "text/plain")}, 415, "unsupported-media-type", ""},
		{"patch a bad id", "PATCH", "/v1/products/a%20b", `{"active":false}`, nil, 400, "validation-failed", "productId"},
		{"patch the list", "PATCH", products, `{"active":false}`, nil, 405, "method-not-allowed", ""},
		{"delete", "DELETE", pack, ``, nil, 405, "method-not-allowed", ""},
		{"put", "PUT", pack, pack100, nil, 405, "method-not-allowed", ""},
		{"get a bad id", "GET", "/v1/products/" + strings.Repeat("p", 65), ``, nil, 400, "validation-failed", "productId"},
		{"list active maybe", "GET", products + "?active=yes", ``, nil, 400, "validation-failed", "active"},
		{"list active twice", "GET", products + "?active=true&active=false", ``, nil, 400, "validation-failed", "active"},
		{"list active empty", "GET", products + "?active=", ``, nil, 400, "validation-failed", "active"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := h.do(tc.method, tc.path, tc.body, tc.opts...)
			p := assertProblem(t, w, tc.status, tc.slug)
			if tc.field != "" {
				require.NotEmpty(t, p["errors"], "body: %s", w.Body.String())
				assert.Equal(t, tc.field, p["errors"].([]any)[0].(map[string]any)["field"], "body: %s", w.Body.String())
			}
			assert.Equal(t, before, h.get("/v1/products").Body.String(), "the catalog changed")
		})
	}
}

func TestProductFieldErrorsAreCollected(t *testing.T) {
	h := newHarness(t)
	w := h.post("/v1/products", `{"id":"a b","name":"","price":"1.5","currency":"EUR","credits":"-1","bonusCredits":"x"}`)
	p := assertProblem(t, w, http.StatusBadRequest, "validation-failed")
	var fields []string
	for _, e := range p["errors"].([]any) {
		fields = append(fields, e.(map[string]any)["field"].(string))
	}
	assert.Equal(t, []string{"id", "name", "currency", "price", "credits", "bonusCredits"}, fields)
}

type faultyProducts struct {
	application.ProductStore
	f *dbFaults
}

func (s faultyProducts) Create(ctx context.Context, p *domain.Product) error {
	if err := s.f.call(ctx); err != nil {
		return err
	}
	return s.ProductStore.Create(ctx, p)
}

func (s faultyProducts) Change(ctx context.Context, tenant domain.TenantID, id domain.ProductID, fn func(*domain.Product) error) (*domain.Product, error) {
	if err := s.f.call(ctx); err != nil {
		return nil, err
	}
	return s.ProductStore.Change(ctx, tenant, id, fn)
}

func (s faultyProducts) Get(ctx context.Context, tenant domain.TenantID, id domain.ProductID) (*domain.Product, error) {
	if err := s.f.call(ctx); err != nil {
		return nil, err
	}
	return s.ProductStore.Get(ctx, tenant, id)
}

func (s faultyProducts) List(ctx context.Context, tenant domain.TenantID, activeOnly bool) ([]*domain.Product, error) {
	if err := s.f.call(ctx); err != nil {
		return nil, err
	}
	return s.ProductStore.List(ctx, tenant, activeOnly)
}
