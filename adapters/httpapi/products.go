package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// The catalog's routes: credit packs, read by any key of the tenant and
// written with catalog:write. Nothing here moves credits, so no request
// takes an Idempotency-Key: a create names its pack's id, so a retry of one
// that succeeded answers already-exists, and a PATCH states the values it
// sets, so running it twice gives the same pack.
type catalogHandlers struct {
	catalog *application.Catalog
}

func (h *catalogHandlers) list(c *gin.Context) {
	active, err := parseActiveQuery(c.QueryArray("active"))
	if err != nil {
		_ = c.Error(err)
		return
	}
	products, err := h.catalog.List(c.Request.Context(), principal(c).Tenant, active)
	if err != nil {
		_ = c.Error(err)
		return
	}
	out := productListResponse{Items: make([]productResponse, 0, len(products))}
	for _, p := range products {
		out.Items = append(out.Items, toProductResponse(p))
	}
	writeJSON(c, http.StatusOK, out)
}

func (h *catalogHandlers) get(c *gin.Context) {
	var fe fieldErrors
	id := parseProductID(&fe, "productId", c.Param("productId"))
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	p, err := h.catalog.Get(c.Request.Context(), principal(c).Tenant, id)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, toProductResponse(p))
}

func (h *catalogHandlers) create(c *gin.Context) {
	var req createProductRequest
	if err := bindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	id, spec, err := req.toDomain()
	if err != nil {
		_ = c.Error(err)
		return
	}
	p, err := h.catalog.Create(c.Request.Context(), principal(c).Tenant, id, spec)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusCreated, toProductResponse(p))
}

func (h *catalogHandlers) change(c *gin.Context) {
	var fe fieldErrors
	id := parseProductID(&fe, "productId", c.Param("productId"))
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	var req changeProductRequest
	if err := bindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	change, err := req.toDomain()
	if err != nil {
		_ = c.Error(err)
		return
	}
	p, err := h.catalog.Change(c.Request.Context(), principal(c).Tenant, id, change)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, toProductResponse(p))
}

// parseActiveQuery reads ?active=true|false: nil when absent.
func parseActiveQuery(values []string) (*bool, error) {
	var fe fieldErrors
	switch {
	case len(values) == 0:
		return nil, nil
	case len(values) > 1:
		fe.addf("active", "must be given once")
	case values[0] == "true", values[0] == "false":
		active := values[0] == "true"
		return &active, nil
	default:
		fe.addf("active", "must be true or false")
	}
	return nil, fe.err()
}

// createProductRequest is the body of POST /v1/products. Prices are decimal
// strings of minor units ("10000" KRW, "600" for 6.00 USD), credits decimal
// strings, as every amount is.
type createProductRequest struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	Price              string `json:"price"`
	Currency           string `json:"currency"`
	Credits            string `json:"credits"`
	BonusCredits       string `json:"bonusCredits,omitempty"`       // absent: no bonus
	CreditValidityDays *int   `json:"creditValidityDays,omitempty"` // absent or null: the credits never expire
}

func (r createProductRequest) toDomain() (domain.ProductID, domain.ProductSpec, error) {
	var fe fieldErrors
	id := parseProductID(&fe, "id", r.ID)
	spec := domain.ProductSpec{Name: r.Name, CreditValidityDays: r.CreditValidityDays}
	if r.Name == "" {
		fe.addf("name", "is required")
	}
	spec.Price = parsePrice(&fe, r.Price, r.Currency)
	spec.Credits = parseAmount(&fe, "credits", r.Credits)
	if r.BonusCredits != "" {
		spec.BonusCredits = parseCredits(&fe, "bonusCredits", r.BonusCredits)
	}
	return id, spec, fe.err() // the domain checks the rest (lengths, ranges)
}

// changeProductRequest is the body of PATCH /v1/products/{productId}: each
// member present is set, each absent one is left as it is. Only
// creditValidityDays may be null, which makes the credits never expire.
type changeProductRequest struct {
	Name               member[string] `json:"name"`
	Price              member[string] `json:"price"`
	Currency           member[string] `json:"currency"`
	Credits            member[string] `json:"credits"`
	BonusCredits       member[string] `json:"bonusCredits"`
	CreditValidityDays member[int]    `json:"creditValidityDays"`
	Active             member[bool]   `json:"active"`
}

func (r changeProductRequest) toDomain() (domain.ProductChange, error) {
	var fe fieldErrors
	var c domain.ProductChange
	for _, m := range []struct {
		name string
		null bool
	}{{"name", r.Name.null}, {"price", r.Price.null}, {"currency", r.Currency.null}, {"credits", r.Credits.null},
		{"bonusCredits", r.BonusCredits.null}, {"active", r.Active.null}} {
		if m.null {
			fe.addf(m.name, "must not be null; leave it out to keep it as it is")
		}
	}
	if r.Name.present() {
		c.Name = &r.Name.value
	}
	// A price means nothing without its currency, and a new currency with
	// the old number ("10000" KRW becoming 10000 cents) is never what was meant.
	switch {
	case r.Price.present() && r.Currency.present():
		price := parsePrice(&fe, r.Price.value, r.Currency.value)
		c.Price = &price
	case r.Price.present() && !r.Currency.set:
		fe.addf("currency", "is required with price")
	case r.Currency.present() && !r.Price.set:
		fe.addf("price", "is required with currency")
	}
	if r.Credits.present() {
		credits := parseAmount(&fe, "credits", r.Credits.value)
		c.Credits = &credits
	}
	if r.BonusCredits.present() {
		bonus := parseCredits(&fe, "bonusCredits", r.BonusCredits.value)
		c.BonusCredits = &bonus
	}
	switch {
	case r.CreditValidityDays.null:
		c.ClearCreditValidity = true
	case r.CreditValidityDays.set:
		c.CreditValidityDays = &r.CreditValidityDays.value
	}
	if r.Active.present() {
		c.Active = &r.Active.value
	}
	return c, fe.err()
}

// member is a member of a PATCH body: absent, null, or a value of T.
type member[T any] struct {
	set   bool // the member was in the body
	null  bool // ... as null
	value T
}

// UnmarshalJSONFrom is called only for a member that is present.
func (m *member[T]) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	m.set = true
	if dec.PeekKind() == 'n' {
		m.null = true
		_, err := dec.ReadToken()
		return err
	}
	return jsonv2.UnmarshalDecode(dec, &m.value)
}

func (m member[T]) present() bool { return m.set && !m.null }

func parseProductID(fe *fieldErrors, field, s string) domain.ProductID {
	if s == "" {
		fe.addf(field, "is required")
		return domain.ProductID{}
	}
	id, err := domain.ParseProductID(s)
	if err != nil {
		fe.add(field, err)
	}
	return id
}

// parsePrice reads a price in minor units and its currency. The digits are
// checked even when the currency is wrong, so both are reported at once.
func parsePrice(fe *fieldErrors, price, currency string) domain.Money {
	cur, curErr := domain.ParseCurrency(currency)
	switch {
	case currency == "":
		fe.addf("currency", "is required")
	case curErr != nil:
		fe.add("currency", curErr)
	}
	if price == "" {
		fe.addf("price", "is required")
		return domain.Money{}
	}
	if curErr != nil {
		cur = domain.KRW // any currency: only the digits are checked
	}
	m, err := domain.ParseMoney(price, cur)
	if err != nil {
		fe.add("price", err)
	}
	return m
}

func parseCredits(fe *fieldErrors, field, s string) domain.Credits {
	c, err := domain.ParseCredits(s)
	if err != nil {
		fe.add(field, err)
	}
	return c
}

type productResponse struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	Price              string `json:"price"` // minor units
	Currency           string `json:"currency"`
	Credits            string `json:"credits"`
	BonusCredits       string `json:"bonusCredits"`
	CreditValidityDays *int   `json:"creditValidityDays"` // null: the credits never expire
	Active             bool   `json:"active"`
	CreatedAt          string `json:"createdAt"`
	UpdatedAt          string `json:"updatedAt"`
}

func toProductResponse(p *domain.Product) productResponse {
	spec := p.Spec()
	return productResponse{ID: p.ID().String(), Name: spec.Name, Price: spec.Price.String(), Currency: spec.Price.Currency().String(),
		Credits: spec.Credits.String(), BonusCredits: spec.BonusCredits.String(), CreditValidityDays: spec.CreditValidityDays,
		Active: p.Active(), CreatedAt: formatTime(p.CreatedAt()), UpdatedAt: formatTime(p.UpdatedAt())}
}

type productListResponse struct {
	Items []productResponse `json:"items"`
}
