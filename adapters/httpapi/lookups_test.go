package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pageAll follows nextCursor from path and returns every item's field.
func (h *harness) pageAll(path, field string, opts ...reqOption) []string {
	h.t.Helper()
	var got []string
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	next := path
	for pages := 0; ; pages++ {
		require.Less(h.t, pages, 100, "too many pages")
		page := h.must(h.get(next, opts...), http.StatusOK)
		for _, it := range page["items"].([]any) {
			got = append(got, it.(map[string]any)[field].(string))
		}
		if page["nextCursor"] == nil {
			return got
		}
		next = path + sep + "cursor=" + url.QueryEscape(page["nextCursor"].(string))
	}
}

func TestListAccounts(t *testing.T) {
	h := newHarness(t)
	for _, a := range []string{"b", "a", "c%2Fd", "B", "z"} {
		h.grant(a, "3")
	}
	h.must(h.post("/v1/accounts/b/spends", `{"amount":"1"}`), http.StatusCreated)
	h.placeHold("z", "2")
	// Another tenant's account never appears.
	h.must(h.post("/v1/accounts/other/grants", `{"amount":"1","source":"bonus"}`, withKey(h.keyB)), http.StatusCreated)

	assert.Equal(t, []string{"B", "a", "b", "c/d", "z"}, h.pageAll("/v1/accounts?limit=2", "id"), "bytewise account order")
	all := h.must(h.get("/v1/accounts"), http.StatusOK)
	assert.Equal(t, map[string]any{"id": "b", "balance": "2", "held": "0", "available": "2", "debt": "0"}, all["items"].([]any)[2])
	assert.Equal(t, map[string]any{"id": "z", "balance": "3", "held": "2", "available": "1", "debt": "0"}, all["items"].([]any)[4])
	assert.Equal(t, []string{"other"}, h.pageAll("/v1/accounts", "id", withKey(h.keyB)))
}

func TestHistoryFilters(t *testing.T) {
	h := newHarness(t)
	g1 := h.grant("u", "10")["id"].(string)
	h.clock.Advance(time.Hour)
	s1 := h.must(h.post("/v1/accounts/u/spends", `{"amount":"1"}`), http.StatusCreated)["id"].(string)
	h.clock.Advance(time.Hour)
	hold := h.placeHold("u", "2")
	c1 := h.must(h.post("/v1/holds/"+hold+"/capture", `{"amount":"1"}`), http.StatusOK)["transaction"].(map[string]any)["id"].(string)
	h.clock.Advance(time.Hour)
	g2 := h.grant("u", "5")["id"].(string)
	at := func(hours int) string {
		return url.QueryEscape(start.Add(time.Duration(hours) * time.Hour).Format(time.RFC3339))
	}

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{g2, c1, s1, g1}},
		{"type=GRANT", []string{g2, g1}},
		{"type=SPEND,CAPTURE", []string{c1, s1}},
		{"type=SPEND&type=CAPTURE&type=SPEND", []string{c1, s1}},
		{"from=" + at(1), []string{g2, c1, s1}},
		{"to=" + at(1), []string{g1}},
		{"from=" + at(1) + "&to=" + at(3), []string{c1, s1}},
		{"from=" + at(1) + "&to=" + at(3) + "&type=GRANT", nil},
		{"type=EXPIRATION", nil},
	} {
		assert.Equal(t, tc.want, h.pageAll("/v1/accounts/u/transactions?limit=1&"+tc.query, "id"), tc.query)
	}
}

// TestCursorsAreBoundToTheirListing: a cursor is refused on another account,
// another tenant, other filters, another listing, and altered.
func TestCursorsAreBoundToTheirListing(t *testing.T) {
	h := newHarness(t)
	for range 3 {
		h.grant("u", "1")
		h.grant("v", "1")
		h.placeHold("u", "1")
		h.placeHold("v", "1")
	}
	h.grant("w", "1")
	h.must(h.post("/v1/accounts/u/grants", `{"amount":"1","source":"bonus","expiresAt":"2026-06-01T00:00:00Z"}`), http.StatusCreated)
	h.must(h.post("/v1/accounts/v/grants", `{"amount":"1","source":"bonus","expiresAt":"2026-06-02T00:00:00Z"}`), http.StatusCreated)
	cursor := func(path string) string {
		page := h.must(h.get(path), http.StatusOK)
		require.NotNil(t, page["nextCursor"], path)
		return url.QueryEscape(page["nextCursor"].(string))
	}
	history := cursor("/v1/accounts/u/transactions?limit=1&type=GRANT")
	holds := cursor("/v1/accounts/u/holds?limit=1&status=open")
	accounts := cursor("/v1/accounts?limit=1")
	lots := cursor("/v1/lots?limit=1&expiringBefore=2027-01-01T00:00:00Z")

	// Accepted where they were made, filters spelt differently included.
	h.must(h.get("/v1/accounts/u/transactions?limit=1&type=GRANT&cursor="+history), http.StatusOK)
	h.must(h.get("/v1/accounts/u/transactions?limit=5&type=GRANT,GRANT&cursor="+history), http.StatusOK)
	h.must(h.get("/v1/accounts/u/holds?status=PARTIALLY_CAPTURED,ACTIVE&cursor="+holds), http.StatusOK)
	h.must(h.get("/v1/accounts?cursor="+accounts), http.StatusOK)
	h.must(h.get("/v1/lots?expiringBefore=2027-01-01T00:00:00Z&cursor="+lots), http.StatusOK)

	tampered := []byte(strings.Repeat("A", 10))
	for name, path := range map[string]string{
		"history of another account":  "/v1/accounts/v/transactions?type=GRANT&cursor=" + history,
		"history without its filter":  "/v1/accounts/u/transactions?cursor=" + history,
		"history with another type":   "/v1/accounts/u/transactions?type=SPEND&cursor=" + history,
		"history with a from":         "/v1/accounts/u/transactions?type=GRANT&from=2020-01-01T00:00:00Z&cursor=" + history,
		"holds of another account":    "/v1/accounts/v/holds?status=open&cursor=" + holds,
		"holds with another status":   "/v1/accounts/u/holds?status=ACTIVE&cursor=" + holds,
		"a holds cursor on history":   "/v1/accounts/u/transactions?cursor=" + holds,
		"a history cursor on holds":   "/v1/accounts/u/holds?cursor=" + history,
		"an accounts cursor on lots":  "/v1/lots?expiringBefore=2027-01-01T00:00:00Z&cursor=" + accounts,
		"lots with another bound":     "/v1/lots?expiringBefore=2027-01-02T00:00:00Z&cursor=" + lots,
		"a lots cursor on accounts":   "/v1/accounts?cursor=" + lots,
		"not base64":                  "/v1/accounts?cursor=!!!",
		"too short":                   "/v1/accounts?cursor=AAAA",
		"empty":                       "/v1/accounts?cursor=",
		"padded base64":               "/v1/accounts?cursor=" + accounts + "%3D",
		"altered position":            "/v1/accounts?cursor=" + string(tampered) + accounts[10:],
		"altered tag":                 "/v1/accounts?cursor=" + accounts[:len(accounts)-3] + "AAA",
		"an old-style history cursor": "/v1/accounts/u/transactions?cursor=AAAAAAAAAAAAAAAAAAAAAA",
	} {
		t.Run(name, func(t *testing.T) { assertProblem(t, h.get(path), http.StatusBadRequest, "invalid-cursor") })
	}
	// Another tenant's key with this tenant's cursor.
	h.must(h.post("/v1/accounts/u/grants", `{"amount":"1","source":"bonus"}`, withKey(h.keyB)), http.StatusCreated)
	assertProblem(t, h.get("/v1/accounts?cursor="+accounts, withKey(h.keyB)), http.StatusBadRequest, "invalid-cursor")
	assertProblem(t, h.get("/v1/accounts/u/transactions?type=GRANT&cursor="+history, withKey(h.keyB)), http.StatusBadRequest, "invalid-cursor")
}

func TestLookupBadInput(t *testing.T) {
	h := newHarness(t)
	h.grant("u", "1")
	cases := []struct {
		path, slug, field string
	}{
		{"/v1/accounts?limit=0", "validation-failed", "limit"},
		{"/v1/accounts?limit=-1", "validation-failed", "limit"},
		{"/v1/accounts?limit=201", "validation-failed", "limit"},
		{"/v1/accounts?limit=99999999999999999999", "validation-failed", "limit"},
		{"/v1/accounts?limit=1.5", "validation-failed", "limit"},
		{"/v1/accounts?limit=", "validation-failed", "limit"},
		{"/v1/accounts/u/holds?limit=x", "validation-failed", "limit"},
		{"/v1/lots?expiringBefore=2030-01-01T00:00:00Z&limit=0", "validation-failed", "limit"},
		{"/v1/accounts/u/transactions?limit=abc", "validation-failed", "limit"},
		{"/v1/accounts/u/holds?status=active", "validation-failed", "status"},
		{"/v1/accounts/u/holds?status=OPEN", "validation-failed", "status"},
		{"/v1/accounts/u/holds?status=ACTIVE,", "validation-failed", "status"},
		{"/v1/accounts/u/holds?status=", "validation-failed", "status"},
		{"/v1/accounts/u/transactions?type=grant", "validation-failed", "type"},
		{"/v1/accounts/u/transactions?type=GRANT,REFUND", "validation-failed", "type"},
		{"/v1/accounts/u/transactions?type=", "validation-failed", "type"},
		{"/v1/accounts/u/transactions?from=yesterday", "validation-failed", "from"},
		{"/v1/accounts/u/transactions?from=2026-01-01", "validation-failed", "from"},
		{"/v1/accounts/u/transactions?to=2026-13-01T00:00:00Z", "validation-failed", "to"},
		{"/v1/accounts/u/transactions?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "validation-failed", "from"},
		{"/v1/accounts/u/transactions?from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "validation-failed", "from"},
		{"/v1/accounts/u/expiring?within=30D", "validation-failed", "within"},
		{"/v1/accounts/u/expiring?within=P", "validation-failed", "within"},
		{"/v1/accounts/u/expiring?within=PT", "validation-failed", "within"},
		{"/v1/accounts/u/expiring?within=P1DT", "validation-failed", "within"},
		{"/v1/accounts/u/expiring?within=P0D", "validation-failed", "within"},
		{"/v1/accounts/u/expiring?within=P3651D", "validation-failed", "within"},
		{"/v1/accounts/u/expiring?within=PT87601H", "validation-failed", "within"},
		{"/v1/accounts/u/expiring?within=P99999999999D", "validation-failed", "within"},
		{"/v1/accounts/u/expiring?within=P1Y", "validation-failed", "within"},
		{"/v1/accounts/u/expiring?within=P1M", "validation-failed", "within"},
		{"/v1/accounts/u/expiring?within=P1W", "validation-failed", "within"},
		{"/v1/accounts/u/expiring?within=-P1D", "validation-failed", "within"},
		{"/v1/accounts/u/expiring?within=P1.5D", "validation-failed", "within"},
		{"/v1/accounts/u/expiring?within=", "validation-failed", "within"},
		{"/v1/lots", "validation-failed", "expiringBefore"},
		{"/v1/lots?expiringBefore=soon", "validation-failed", "expiringBefore"},
		{"/v1/transactions/nope", "validation-failed", "transactionId"},
		{"/v1/transactions/0190a0f0b0c07000800000000000000a", "validation-failed", "transactionId"},
		{"/v1/transactions/%7B0190a0f0-b0c0-7000-8000-00000000000a%7D", "validation-failed", "transactionId"},
		{"/v1/accounts/a%0Ab/holds", "validation-failed", "accountId"},
		{"/v1/accounts/a%0Ab/expiring", "validation-failed", "accountId"},
		{"/v1/accounts/" + strings.Repeat("a", 129) + "/transactions?type=GRANT", "validation-failed", "accountId"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			p := assertProblem(t, h.get(tc.path), http.StatusBadRequest, tc.slug)
			if tc.field != "" {
				require.NotEmpty(t, p["errors"], "%v", p)
				assert.Equal(t, tc.field, p["errors"].([]any)[0].(map[string]any)["field"], "%v", p)
			}
		})
	}
	// Unknown ids are 404, and so are another tenant's.
	assertProblem(t, h.get("/v1/accounts/nobody/holds"), http.StatusNotFound, "not-found")
	assertProblem(t, h.get("/v1/accounts/nobody/expiring"), http.StatusNotFound, "not-found")
	assertProblem(t, h.get("/v1/accounts/nobody/transactions?type=GRANT"), http.StatusNotFound, "not-found")
	assertProblem(t, h.get("/v1/accounts/u/holds", withKey(h.keyB)), http.StatusNotFound, "not-found")
	assertProblem(t, h.get("/v1/transactions/0190a0f0-b0c0-7000-8000-00000000000a"), http.StatusNotFound, "not-found")
}

func TestGetTransactionNamesTheSourceOfSpentCredits(t *testing.T) {
	h := newHarness(t)
	h.must(h.post("/v1/accounts/u/grants", `{"amount":"3","source":"paid","priority":10,"fundingReference":"inv-1"}`), http.StatusCreated)
	h.must(h.post("/v1/accounts/u/grants", `{"amount":"5","source":"bonus","priority":20}`), http.StatusCreated)
	spend := h.must(h.post("/v1/accounts/u/spends", `{"amount":"4"}`), http.StatusCreated)

	got := h.must(h.get("/v1/transactions/"+spend["id"].(string)), http.StatusOK)
	assert.Equal(t, spend, got, "the transaction reads back as the spend answered")
	var sources []string
	for _, p := range got["postings"].([]any) {
		p := p.(map[string]any)
		if p["accountType"] == "wallet" {
			sources = append(sources, fmt.Sprint(p["lotSource"], " ", p["amount"]))
		}
	}
	assert.Equal(t, []string{"paid -3", "bonus -1"}, sources)
	hist := h.must(h.get("/v1/accounts/u/transactions?type=SPEND"), http.StatusOK)
	assert.Equal(t, got, hist["items"].([]any)[0], "history renders the same postings")

	// Percent-encoded ids name the same transaction; another tenant's key gets 404.
	id := spend["id"].(string)
	h.must(h.get("/v1/transactions/"+strings.Replace(id, "-", "%2D", 1)), http.StatusOK)
	assertProblem(t, h.get("/v1/transactions/"+id, withKey(h.keyB)), http.StatusNotFound, "not-found")
}

func TestListHolds(t *testing.T) {
	h := newHarness(t)
	h.grant("u%2F1", "100")
	active := h.placeHold("u%2F1", "1")
	partial := h.placeHold("u%2F1", "2")
	h.must(h.post("/v1/holds/"+partial+"/capture", `{"amount":"1"}`), http.StatusOK)
	captured := h.placeHold("u%2F1", "1")
	h.must(h.post("/v1/holds/"+captured+"/capture", `{"amount":"1"}`), http.StatusOK)
	released := h.placeHold("u%2F1", "1")
	h.must(h.post("/v1/holds/"+released+"/release", `{}`), http.StatusOK)
	short := h.must(h.post("/v1/accounts/u%2F1/holds", `{"amount":"1","expiresInSeconds":60}`), http.StatusCreated)["id"].(string)
	h.clock.Advance(2 * time.Minute) // short is past its expiry, not yet swept

	for query, want := range map[string][]string{
		"":                            {short, released, captured, partial, active},
		"status=open":                 {partial, active},
		"status=ACTIVE":               {active},
		"status=EXPIRED":              {short},
		"status=CAPTURED,RELEASED":    {released, captured},
		"status=open&status=EXPIRED":  {short, partial, active},
		"status=PARTIALLY_CAPTURED":   {partial},
		"status=ACTIVE&status=ACTIVE": {active},
	} {
		assert.Equal(t, want, h.pageAll("/v1/accounts/u%2F1/holds?limit=2&"+query, "id"), query)
	}
	page := h.must(h.get("/v1/accounts/u%2F1/holds?status=EXPIRED"), http.StatusOK)
	assert.Equal(t, "EXPIRED", page["items"].([]any)[0].(map[string]any)["status"])
	// Listed holds are whole hold objects, their captures included.
	page = h.must(h.get("/v1/accounts/u%2F1/holds?status=PARTIALLY_CAPTURED"), http.StatusOK)
	listed := page["items"].([]any)[0].(map[string]any)
	assert.Equal(t, h.must(h.get("/v1/holds/"+partial), http.StatusOK), listed)
	assert.Len(t, listed["captures"], 1)
}

func TestExpiringCredits(t *testing.T) {
	h := newHarness(t)
	day := func(d int) string { return start.Add(time.Duration(d) * 24 * time.Hour).Format(time.RFC3339) }
	grant := func(account, amount, source, at string) string {
		body := fmt.Sprintf(`{"amount":%q,"source":%q,"expiresAt":%q}`, amount, source, at)
		return h.must(h.post("/v1/accounts/"+account+"/grants", body), http.StatusCreated)["postings"].([]any)[1].(map[string]any)["lotId"].(string)
	}
	soon := grant("u", "5", "paid", day(10))
	later := grant("u", "7", "bonus", day(40))
	grant("u", "9", "bonus", day(400))
	h.grant("u", "11") // never expires
	other := grant("v", "2", "paid", day(20))
	h.must(h.post("/v1/accounts/u/grants", `{"amount":"1","source":"bonus","expiresAt":"`+day(30)+`"}`, withKey(h.keyB)), http.StatusCreated)

	e := h.must(h.get("/v1/accounts/u/expiring"), http.StatusOK)
	assert.Equal(t, "5", e["total"])
	assert.Equal(t, day(30), e["until"])
	require.Len(t, e["lots"], 1)
	assert.Equal(t, map[string]any{"id": soon, "source": "paid", "remaining": "5", "held": "0", "expiresAt": day(10), "priority": float64(50), "funding": nil},
		e["lots"].([]any)[0])
	e = h.must(h.get("/v1/accounts/u/expiring?within=P40D"), http.StatusOK) // the window's end is included
	assert.Equal(t, "12", e["total"])
	e = h.must(h.get("/v1/accounts/u/expiring?within=PT240H"), http.StatusOK)
	assert.Equal(t, "5", e["total"])
	e = h.must(h.get("/v1/accounts/u/expiring?within=P9DT23H59M"), http.StatusOK)
	assert.Equal(t, "0", e["total"])
	assert.Empty(t, e["lots"])

	assert.Equal(t, []string{soon, other, later}, h.pageAll("/v1/lots?limit=1&expiringBefore="+url.QueryEscape(day(400)), "id"))
	assert.Equal(t, []string{soon}, h.pageAll("/v1/lots?expiringBefore="+url.QueryEscape(day(20)), "id"), "the bound is exclusive")
	// Once expired, a lot is no longer listed, swept or not.
	h.clock.Advance(15 * 24 * time.Hour)
	assert.Equal(t, []string{other, later}, h.pageAll("/v1/lots?expiringBefore="+url.QueryEscape(day(400)), "id"))
	e = h.must(h.get("/v1/accounts/u/expiring"), http.StatusOK)
	assert.Equal(t, "7", e["total"])
}
