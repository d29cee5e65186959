package httpapi

import (
	"encoding/binary"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// The lookups: listings of a tenant's accounts, an account's holds and
// expiring credits, the tenant's expiring lots, and one transaction. Every
// listing pages with an opaque cursor bound to it (see cursor.go).

type accountSummaryResponse struct {
	ID        string `json:"id"`
	Balance   string `json:"balance"`
	Held      string `json:"held"`
	Available string `json:"available"`
	Debt      string `json:"debt"`
}

type accountsPageResponse struct {
	Items      []accountSummaryResponse `json:"items"`
	NextCursor *string                  `json:"nextCursor"` // null on the last page
}

func (h *handlers) listAccounts(c *gin.Context) {
	var fe fieldErrors
	tenant := principal(c).Tenant
	limit := fe.pageSize(c.GetQuery("limit"))
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	scope := cursorScope(tenant.String())
	var after *domain.AccountID
	if s, ok := c.GetQuery("cursor"); ok {
		pos, err := openCursor(cursorAccounts, scope, s)
		if err != nil {
			_ = c.Error(err)
			return
		}
		a, err := domain.ParseAccountID(string(pos))
		if err != nil {
			_ = c.Error(errInvalidCursor)
			return
		}
		after = &a
	}
	page, err := h.accounts.ListAccounts(c.Request.Context(), tenant, after, limit)
	if err != nil {
		_ = c.Error(err)
		return
	}
	out := accountsPageResponse{Items: make([]accountSummaryResponse, 0, len(page.Items))}
	for _, v := range page.Items {
		out.Items = append(out.Items, accountSummaryResponse{ID: v.Account.String(), Balance: v.Balance.String(), Held: v.Held.String(),
			Available: v.Available.String(), Debt: v.Debt.String()})
	}
	if page.Next != nil {
		s := sealCursor(cursorAccounts, scope, []byte(page.Next.String()))
		out.NextCursor = &s
	}
	writeJSON(c, http.StatusOK, out)
}

// listTransactions is the history with its filters: type (repeated or
// comma-separated), from and to (RFC 3339, created in [from, to)).
func (h *handlers) listTransactions(c *gin.Context) {
	var fe fieldErrors
	tenant := principal(c).Tenant
	q := application.HistoryQuery{Tenant: tenant, Account: parseAccount(&fe, c.Param("accountId"))}
	q.Limit = fe.pageSize(c.GetQuery("limit"))
	q.Types = parseList(&fe, c, "type", one(domain.TransactionTypeFromString))
	q.From = parseQueryTime(&fe, c, "from")
	q.To = parseQueryTime(&fe, c, "to")
	if q.From != nil && q.To != nil && !q.From.Before(*q.To) {
		fe.addf("from", "must be before to")
	}
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	scope := cursorScope(tenant.String(), q.Account.String(), joinSorted(q.Types, domain.TransactionType.String),
		formatOptionalTime(q.From), formatOptionalTime(q.To))
	if s, ok := c.GetQuery("cursor"); ok {
		pos, err := openCursor(cursorHistory, scope, s)
		if err != nil || len(pos) != len(domain.TransactionID{}) {
			_ = c.Error(errInvalidCursor)
			return
		}
		id := domain.TransactionID(pos)
		q.Before = &id
	}
	page, err := h.accounts.ListHistory(c.Request.Context(), q)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, toHistoryResponse(page, func(id domain.TransactionID) string {
		return sealCursor(cursorHistory, scope, id[:])
	}))
}

func (h *handlers) getTransaction(c *gin.Context) {
	s := c.Param("transactionId")
	u, err := uuid.Parse(s)
	if err != nil || len(s) != holdIDLength { // one spelling per id, as for holds
		var fe fieldErrors
		fe.addf("transactionId", "must be a transaction id: a UUID in its canonical form")
		_ = c.Error(fe.err())
		return
	}
	t, err := h.accounts.GetTransaction(c.Request.Context(), principal(c).Tenant, domain.TransactionID(u))
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, withReversals(toTransactionResponse(t.Transaction), t.Reversals))
}

type holdsPageResponse struct {
	Items      []holdResponse `json:"items"`
	NextCursor *string        `json:"nextCursor"`
}

// holdStatusOpen stands for the statuses of holds that still reserve credits.
const holdStatusOpen = "open"

func (h *handlers) listHolds(c *gin.Context) {
	var fe fieldErrors
	tenant := principal(c).Tenant
	q := application.HoldsQuery{Tenant: tenant, Account: parseAccount(&fe, c.Param("accountId"))}
	q.Limit = fe.pageSize(c.GetQuery("limit"))
	q.Statuses = parseList(&fe, c, "status", func(s string) ([]domain.HoldStatus, error) {
		if s == holdStatusOpen {
			return []domain.HoldStatus{domain.HoldActive, domain.HoldPartiallyCaptured}, nil
		}
		return one(domain.HoldStatusFromString)(s)
	})
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	scope := cursorScope(tenant.String(), q.Account.String(), joinSorted(q.Statuses, domain.HoldStatus.String))
	if s, ok := c.GetQuery("cursor"); ok {
		pos, err := openCursor(cursorHolds, scope, s)
		if err != nil || len(pos) != len(domain.HoldID{}) {
			_ = c.Error(errInvalidCursor)
			return
		}
		id := domain.HoldID(pos)
		q.Before = &id
	}
	page, err := h.holds.List(c.Request.Context(), q)
	if err != nil {
		_ = c.Error(err)
		return
	}
	out := holdsPageResponse{Items: make([]holdResponse, 0, len(page.Items))}
	for _, hold := range page.Items {
		out.Items = append(out.Items, toHoldResponse(hold, page.AsOf)) // the instant the filter used
	}
	if page.Next != nil {
		s := sealCursor(cursorHolds, scope, page.Next[:])
		out.NextCursor = &s
	}
	writeJSON(c, http.StatusOK, out)
}

// defaultExpiringWindow is the window of GET .../expiring without within.
const defaultExpiringWindow = "P30D"

type expiringLotResponse struct {
	ID        string           `json:"id"`
	Source    string           `json:"source"`
	Remaining string           `json:"remaining"`
	Held      string           `json:"held"`
	ExpiresAt string           `json:"expiresAt"`
	Priority  int              `json:"priority"`
	Funding   *fundingResponse `json:"funding"`
}

type expiringResponse struct {
	AccountID string                `json:"accountId"`
	AsOf      string                `json:"asOf"`
	Until     string                `json:"until"`
	Total     string                `json:"total"`
	Lots      []expiringLotResponse `json:"lots"`
}

func (h *handlers) expiring(c *gin.Context) {
	var fe fieldErrors
	account := parseAccount(&fe, c.Param("accountId"))
	within := c.DefaultQuery("within", defaultExpiringWindow)
	d, err := parseDuration(within)
	if err != nil {
		fe.addf("within", "%s", err.Error())
	}
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	v, err := h.accounts.Expiring(c.Request.Context(), principal(c).Tenant, account, d)
	if err != nil {
		_ = c.Error(err)
		return
	}
	out := expiringResponse{AccountID: v.Account.String(), AsOf: formatTime(v.AsOf), Until: formatTime(v.Until), Total: v.Total.String(),
		Lots: make([]expiringLotResponse, 0, len(v.Lots))}
	for _, l := range v.Lots {
		out.Lots = append(out.Lots, expiringLotResponse{ID: l.ID().String(), Source: l.Source().String(), Remaining: l.Remaining().String(),
			Held: l.Held().String(), ExpiresAt: formatTime(*l.ExpiresAt()), Priority: l.Priority(), Funding: toFundingResponse(l.Funding())})
	}
	writeJSON(c, http.StatusOK, out)
}

type tenantLotResponse struct {
	ID        string           `json:"id"`
	AccountID string           `json:"accountId"`
	Source    string           `json:"source"`
	Amount    string           `json:"amount"`
	Remaining string           `json:"remaining"`
	Held      string           `json:"held"`
	ExpiresAt string           `json:"expiresAt"`
	Priority  int              `json:"priority"`
	Funding   *fundingResponse `json:"funding"`
	CreatedAt string           `json:"createdAt"`
}

type lotsPageResponse struct {
	Items      []tenantLotResponse `json:"items"`
	NextCursor *string             `json:"nextCursor"`
}

// lotPositionSize is a lot's position: its expiry (seconds and nanoseconds)
// and its id.
const lotPositionSize = 8 + 4 + 16

func (h *handlers) listLots(c *gin.Context) {
	var fe fieldErrors
	tenant := principal(c).Tenant
	limit := fe.pageSize(c.GetQuery("limit"))
	before := parseQueryTime(&fe, c, "expiringBefore")
	if _, given := c.GetQuery("expiringBefore"); !given {
		fe.addf("expiringBefore", "is required")
	}
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	scope := cursorScope(tenant.String(), formatOptionalTime(before))
	var after *application.LotCursor
	if s, ok := c.GetQuery("cursor"); ok {
		pos, err := openCursor(cursorLots, scope, s)
		if err != nil || len(pos) != lotPositionSize {
			_ = c.Error(errInvalidCursor)
			return
		}
		at := time.Unix(int64(binary.BigEndian.Uint64(pos[:8])), int64(binary.BigEndian.Uint32(pos[8:12]))).UTC()
		after = &application.LotCursor{ExpiresAt: at, Lot: domain.LotID(pos[12:])}
	}
	page, err := h.accounts.ListExpiringLots(c.Request.Context(), tenant, *before, after, limit)
	if err != nil {
		_ = c.Error(err)
		return
	}
	out := lotsPageResponse{Items: make([]tenantLotResponse, 0, len(page.Items))}
	for _, it := range page.Items {
		l := it.Lot
		out.Items = append(out.Items, tenantLotResponse{ID: l.ID().String(), AccountID: it.Account.String(), Source: l.Source().String(),
			Amount: l.Amount().String(), Remaining: l.Remaining().String(), Held: l.Held().String(), ExpiresAt: formatTime(*l.ExpiresAt()),
			Priority: l.Priority(), Funding: toFundingResponse(l.Funding()), CreatedAt: formatTime(l.CreatedAt())})
	}
	if n := page.Next; n != nil {
		pos := make([]byte, 0, lotPositionSize)
		pos = binary.BigEndian.AppendUint64(pos, uint64(n.ExpiresAt.Unix()))
		pos = binary.BigEndian.AppendUint32(pos, uint32(n.ExpiresAt.Nanosecond()))
		pos = append(pos, n.Lot[:]...)
		s := sealCursor(cursorLots, scope, pos)
		out.NextCursor = &s
	}
	writeJSON(c, http.StatusOK, out)
}

// parseList reads a filter given as repeated parameters, comma-separated
// values, or both (type=GRANT&type=SPEND, type=GRANT,SPEND). Each value may
// stand for several (status=open); the result has no duplicates.
func parseList[T comparable](fe *fieldErrors, c *gin.Context, name string, parse func(string) ([]T, error)) []T {
	var out []T
	for _, param := range c.QueryArray(name) {
		for _, s := range strings.Split(param, ",") {
			vs, err := parse(s)
			if err != nil {
				fe.addf(name, "%q is not one of the values this filter takes", s)
				continue
			}
			for _, v := range vs {
				if !slices.Contains(out, v) {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// one adapts a parser of one value to parseList.
func one[T any](parse func(string) (T, error)) func(string) ([]T, error) {
	return func(s string) ([]T, error) {
		v, err := parse(s)
		return []T{v}, err
	}
}

// joinSorted is a filter's values in a fixed order, for a cursor's scope:
// the same set of values spelt in another order is the same listing.
func joinSorted[T any](vs []T, str func(T) string) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = str(v)
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}

// parseQueryTime reads an RFC 3339 date-time query parameter; nil when absent.
func parseQueryTime(fe *fieldErrors, c *gin.Context, name string) *time.Time {
	s, ok := c.GetQuery(name)
	if !ok {
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		fe.addf(name, "must be an RFC 3339 date-time such as 2030-01-02T15:04:05Z")
		return nil
	}
	t = t.UTC()
	return &t
}

func formatOptionalTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return formatTime(*t)
}

// isoDuration is the part of ISO 8601 durations the API takes: days, hours
// and minutes. Years and months are refused, their length varies.
var isoDuration = regexp.MustCompile(`^P(?:([0-9]{1,7})D)?(?:T(?:([0-9]{1,8})H)?(?:([0-9]{1,10})M)?)?$`)

// parseDuration reads an ISO 8601 duration such as P30D, PT12H or P1DT6H,
// from one minute to application.MaxExpiringWindow.
func parseDuration(s string) (time.Duration, error) {
	m := isoDuration.FindStringSubmatch(s)
	if m == nil || s == "P" || strings.HasSuffix(s, "T") {
		return 0, errBadDuration
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute} {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[i+1], 10, 64)
		if err != nil || n > int64(application.MaxExpiringWindow/unit) {
			return 0, errBadDuration
		}
		d += time.Duration(n) * unit
	}
	if d < time.Minute || d > application.MaxExpiringWindow {
		return 0, errBadDuration
	}
	return d, nil
}

var errBadDuration = durationError("must be an ISO 8601 duration in days, hours or minutes (P30D, PT12H, P1DT6H), from PT1M to P3650D")

type durationError string

func (e durationError) Error() string { return string(e) }
