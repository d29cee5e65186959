package shop

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// The buyer. A real shop knows its user from its own login; the demo lets
// the visitor pick a name, kept in a cookie, and maps it to a creditd
// account id of its own (creditd's accounts are the shop's user ids).
const (
	userCookie  = "demo_user"
	defaultUser = "alice"
)

var userName = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

func accountID(user string) string { return "demo-" + user }

// user is the request's buyer: the cookie's name, or alice.
func user(r *http.Request) (string, error) {
	c, err := r.Cookie(userCookie)
	if err != nil {
		return defaultUser, nil
	}
	if !userName.MatchString(c.Value) {
		return "", badRequest("user name %q: use 1 to 32 of a-z, 0-9 and -", c.Value)
	}
	return c.Value, nil
}

// maxBody caps every request body: the page sends a few dozen bytes.
const maxBody = 4 << 10

// decode reads one JSON object with only known members into dst.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported-media-type", Detail: "send application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("more than one JSON value")
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "request-too-large", Detail: "the body is larger than 4 KiB"}
	case err != nil:
		return badRequest("body: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.RetryAfter != "" {
		w.Header().Set("Retry-After", e.RetryAfter)
	}
	writeJSON(w, e.Status, map[string]string{"error": e.Code, "detail": e.Detail})
}

// POST /api/user {user}: switch the demo user.
func (s *Shop) switchUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		User string `json:"user"`
	}
	if err := decode(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if !userName.MatchString(in.User) {
		s.fail(w, r, badRequest("user name %q: use 1 to 32 of a-z, 0-9 and -", in.User))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: userCookie, Value: in.User, Path: "/", MaxAge: 30 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode})
	writeJSON(w, http.StatusOK, map[string]string{"user": in.User, "accountId": accountID(in.User)})
}

// account and transaction are the parts of creditd's Account and Transaction
// the page shows.
type account struct {
	Balance   string `json:"balance"`
	Held      string `json:"held"`
	Available string `json:"available"`
	Debt      string `json:"debt"`
}

type transaction struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Amount       string `json:"amount"`
	BalanceAfter string `json:"balanceAfter"`
	CreatedAt    string `json:"createdAt"`
	Reason       string `json:"reason"`
}

// GET /api/me: the buyer, the balance and the latest history.
func (s *Shop) me(w http.ResponseWriter, r *http.Request) {
	u, err := user(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := escapeID(accountID(u))
	out := struct {
		User         string        `json:"user"`
		AccountID    string        `json:"accountId"`
		Account      account       `json:"account"`
		Transactions []transaction `json:"transactions"`
	}{User: u, AccountID: accountID(u), Account: account{"0", "0", "0", "0"}, Transactions: []transaction{}}
	err = s.creditd.do(r.Context(), http.MethodGet, "/v1/accounts/"+id, nil, &out.Account)
	switch {
	case isNotFound(err):
		// creditd opens an account on its first grant: a new buyer has 0.
	case err != nil:
		s.fail(w, r, err)
		return
	default:
		var page struct {
			Items []transaction `json:"items"`
		}
		if err := s.creditd.do(r.Context(), http.MethodGet, "/v1/accounts/"+id+"/transactions?limit=20", nil, &page); err != nil {
			s.fail(w, r, err)
			return
		}
		out.Transactions = page.Items
	}
	writeJSON(w, http.StatusOK, out)
}

// product is creditd's Product, as the page shows it.
type product struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	Price              string `json:"price"` // minor units: "10000" KRW, "600" is 6.00 USD
	Currency           string `json:"currency"`
	Credits            string `json:"credits"`
	BonusCredits       string `json:"bonusCredits"`
	CreditValidityDays *int   `json:"creditValidityDays"`
}

// GET /api/products: the packs on sale.
func (s *Shop) products(w http.ResponseWriter, r *http.Request) {
	var list struct {
		Items []product `json:"items"`
	}
	if err := s.creditd.do(r.Context(), http.MethodGet, "/v1/products?active=true", nil, &list); err != nil {
		s.fail(w, r, err)
		return
	}
	if list.Items == nil {
		list.Items = []product{}
	}
	writeJSON(w, http.StatusOK, list)
}

// order is creditd's Order. customData goes to PortOne unchanged, so it is
// kept as the bytes creditd sent. What requestPayment takes is a V2 order's,
// what IMP.request_pay takes a V1 order's; each is left out of the other.
type order struct {
	PaymentID      string          `json:"paymentId"`
	AccountID      string          `json:"accountId"`
	ProductID      string          `json:"productId"`
	Status         string          `json:"status"`
	Gateway        string          `json:"gateway,omitempty"`
	StoreID        string          `json:"storeId,omitempty"`
	ChannelKey     string          `json:"channelKey,omitempty"`
	OrderName      string          `json:"orderName,omitempty"`
	TotalAmount    int64           `json:"totalAmount,omitempty"`
	MerchantUID    string          `json:"merchantUid,omitempty"`
	Name           string          `json:"name,omitempty"`
	Amount         int64           `json:"amount,omitempty"`
	ImpCode        string          `json:"impCode,omitempty"`
	PG             string          `json:"pg,omitempty"`
	Currency       string          `json:"currency"`
	CustomData     json.RawMessage `json:"customData"`
	Credits        string          `json:"credits"`
	BonusCredits   string          `json:"bonusCredits"`
	RefundedAmount string          `json:"refundedAmount"`
	VirtualAccount *struct {
		Bank          string  `json:"bank"`
		AccountNumber string  `json:"accountNumber"`
		Holder        string  `json:"holder"`
		DueAt         *string `json:"dueAt"`
	} `json:"virtualAccount"`
	Rejection *string `json:"rejection"`
	PaidAt    *string `json:"paidAt"`
	CreatedAt string  `json:"createdAt"`
	UpdatedAt string  `json:"updatedAt"`
}

var productID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`) // creditd's ProductId

// POST /api/orders {productId, gateway?}: start buying a pack, through the
// PortOne API the page chose (creditd's default when it chose none). The
// page pays through the gateway the order came back with.
func (s *Shop) createOrder(w http.ResponseWriter, r *http.Request) {
	u, err := user(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in struct {
		ProductID string `json:"productId"`
		Gateway   string `json:"gateway"`
	}
	if err := decode(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if !productID.MatchString(in.ProductID) {
		s.fail(w, r, badRequest("productId %q is not a product id", in.ProductID))
		return
	}
	if in.Gateway != "" && !gateways[in.Gateway] {
		s.fail(w, r, badRequest("gateway %q is v2 or v1", in.Gateway))
		return
	}
	var o order
	body := map[string]string{"accountId": accountID(u), "productId": in.ProductID}
	if in.Gateway != "" {
		body["gateway"] = in.Gateway
	}
	if err := s.creditd.do(r.Context(), http.MethodPost, "/v1/orders", body, &o); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, o)
}

// GET /api/orders: the buyer's orders, newest change first.
func (s *Shop) listOrders(w http.ResponseWriter, r *http.Request) {
	u, err := user(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// creditd lists by last change, oldest first, in pages; a demo buyer has
	// a handful, so a few pages are all of them.
	orders := []order{}
	q := url.Values{"accountId": {accountID(u)}, "limit": {"200"}}
	for range 5 {
		var page struct {
			Items      []order `json:"items"`
			NextCursor *string `json:"nextCursor"`
		}
		if err := s.creditd.do(r.Context(), http.MethodGet, "/v1/orders?"+q.Encode(), nil, &page); err != nil {
			s.fail(w, r, err)
			return
		}
		orders = append(orders, page.Items...)
		if page.NextCursor == nil {
			break
		}
		q.Set("cursor", *page.NextCursor)
	}
	for i, j := 0, len(orders)-1; i < j; i, j = i+1, j-1 {
		orders[i], orders[j] = orders[j], orders[i]
	}
	writeJSON(w, http.StatusOK, map[string][]order{"items": orders})
}

var paymentID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`) // creditd's PaymentId

// ownOrder reads the order in the path and checks that it is the buyer's:
// creditd keeps one tenant's orders apart from another's, but telling one
// buyer of the shop from another is the shop's job.
func (s *Shop) ownOrder(r *http.Request) (order, error) {
	u, err := user(r)
	if err != nil {
		return order{}, err
	}
	id := r.PathValue("paymentId")
	if !paymentID.MatchString(id) || id == "." || id == ".." {
		return order{}, badRequest("%q is not an order id", id)
	}
	var o order
	if err := s.creditd.do(r.Context(), http.MethodGet, "/v1/orders/"+escapeID(id), nil, &o); err != nil {
		return order{}, err
	}
	if o.AccountID != accountID(u) {
		return order{}, &apiError{Status: http.StatusNotFound, Code: "not-found", Detail: "no such order"}
	}
	return o, nil
}

// GET /api/orders/{paymentId}: one order, as creditd last saw it (polled by
// the page while a payment is pending or a deposit is awaited).
func (s *Shop) getOrder(w http.ResponseWriter, r *http.Request) {
	o, err := s.ownOrder(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

var impUID = regexp.MustCompile(`^imp_[A-Za-z0-9]{1,64}$`) // PortOne V1's payment id

// POST /api/orders/{paymentId}/complete {impUid?}: after the payment window,
// whatever it said. creditd asks PortOne and answers the order as it now
// is; V1's impUid only tells creditd where to look first.
func (s *Shop) completeOrder(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ImpUID string `json:"impUid"`
	}
	if r.ContentLength != 0 { // V2's page sends no body
		if err := decode(w, r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if in.ImpUID != "" && !impUID.MatchString(in.ImpUID) {
		s.fail(w, r, badRequest("impUid %q is not a PortOne V1 imp_uid", in.ImpUID))
		return
	}
	o, err := s.ownOrder(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body any // none, exactly as before V1, unless there is a hint
	if in.ImpUID != "" {
		body = map[string]string{"impUid": in.ImpUID}
	}
	if err := s.creditd.do(r.Context(), http.MethodPost, "/v1/orders/"+escapeID(o.PaymentID)+"/complete", body, &o); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// GET /api/orders/{paymentId}/refund-quote: what a refund gives back now.
func (s *Shop) refundQuote(w http.ResponseWriter, r *http.Request) {
	o, err := s.ownOrder(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var quote struct {
		PaymentID         string `json:"paymentId"`
		Currency          string `json:"currency"`
		RefundableAmount  string `json:"refundableAmount"`
		RefundableCredits string `json:"refundableCredits"`
		RefundedAmount    string `json:"refundedAmount"`
		RefundInProgress  bool   `json:"refundInProgress"`
	}
	if err := s.creditd.do(r.Context(), http.MethodGet, "/v1/orders/"+escapeID(o.PaymentID)+"/refund-quote", nil, &quote); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, quote)
}

var minorUnits = regexp.MustCompile(`^[1-9][0-9]{0,15}$`) // creditd's refund amount

// POST /api/orders/{paymentId}/refunds {reason, amount?}: refund. The page
// sends the quote's amount, so the buyer gets exactly what was shown, or a
// refusal if spending changed it meanwhile; without amount creditd refunds
// all that is refundable.
func (s *Shop) refund(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Reason string `json:"reason"`
		Amount string `json:"amount,omitempty"`
	}
	if err := decode(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := checkReason(in.Reason, true); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Amount != "" && !minorUnits.MatchString(in.Amount) {
		s.fail(w, r, badRequest("amount %q: a whole number of the currency's minor unit, like \"10000\"", in.Amount))
		return
	}
	o, err := s.ownOrder(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.creditd.do(r.Context(), http.MethodPost, "/v1/orders/"+escapeID(o.PaymentID)+"/refunds", in, &o); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, o)
}

// POST /api/spend {amount?, reason}: spend credits on the product's feature.
func (s *Shop) spend(w http.ResponseWriter, r *http.Request) {
	u, err := user(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in := struct {
		Amount int    `json:"amount"`
		Reason string `json:"reason"`
	}{Amount: 1}
	if err := decode(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Amount < 1 || in.Amount > 1000 {
		s.fail(w, r, badRequest("amount %d: spend 1 to 1000 credits", in.Amount))
		return
	}
	if err := checkReason(in.Reason, true); err != nil {
		s.fail(w, r, err)
		return
	}
	// creditd takes amounts as decimal strings, never JSON numbers.
	body := map[string]string{"amount": strconv.Itoa(in.Amount), "reason": in.Reason}
	var tx transaction
	if err := s.creditd.do(r.Context(), http.MethodPost, "/v1/accounts/"+escapeID(accountID(u))+"/spends", body, &tx); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, tx)
}

// checkReason keeps reasons printable and short (creditd allows 500).
func checkReason(reason string, required bool) error {
	switch {
	case required && strings.TrimSpace(reason) == "":
		return badRequest("reason is required")
	case len(reason) > 200:
		return badRequest("reason: at most 200 bytes")
	case strings.ContainsFunc(reason, func(c rune) bool { return !unicode.IsPrint(c) }):
		return badRequest("reason: printable characters only")
	}
	return nil
}
