package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.grant("user-1", "100")
	hold := h.placeHold("user-1", "10")
	before := h.ledgerSnapshot([]string{"user-1"}, []string{hold})

	const (
		grants   = "/v1/accounts/user-1/grants"
		spends   = "/v1/accounts/user-1/spends"
		holds    = "/v1/accounts/user-1/holds"
		history  = "/v1/accounts/user-1/transactions"
		validity = 400
	)
	capture, release := "/v1/holds/"+hold+"/capture", "/v1/holds/"+hold+"/release"
	manyKeys := make([]string, 51)
	for i := range manyKeys {
		manyKeys[i] = fmt.Sprintf(`"k%d":"v"`, i)
	}
	longAccount := strings.Repeat("a", 129)

	cases := []struct {
		name         string
		method, path string
		body         string
		opts         []reqOption
		status       int
		slug         string
		field        string // the field errors[0] names, when set
	}{
		{"malformed JSON", "POST", spends, `{"amount":`, nil, validity, "malformed-request", ""},
		{"broken JSON", "POST", spends, `{"amount" "1"}`, nil, validity, "malformed-request", ""},
		{"empty body", "POST", spends, ``, nil, validity, "malformed-request", ""},
		{"null body", "POST", spends, `null`, nil, validity, "malformed-request", ""},
		{"white space body", "POST", spends, "  \n", nil, validity, "malformed-request", ""},
		{"array body", "POST", spends, `[{"amount":"1"}]`, nil, validity, "malformed-request", ""},
		{"string body", "POST", spends, `"1"`, nil, validity, "malformed-request", ""},
		{"trailing object", "POST", spends, `{"amount":"1"}{"amount":"1"}`, nil, validity, "malformed-request", ""},
		{"trailing garbage", "POST", spends, `{"amount":"1"} x`, nil, validity, "malformed-request", ""},
		{"duplicate field", "POST", spends, `{"amount":"1","amount":"1000"}`, nil, validity, "validation-failed", "amount"},
		{"duplicate grant amount", "POST", grants, `{"amount":"1","source":"bonus","amount":"1000"}`, nil, validity, "validation-failed", "amount"},
		{"duplicate through an escape", "POST", spends, `{"amount":"1","\u0061mount":"1000"}`, nil, validity, "validation-failed", "amount"},
		{"duplicate equal values", "POST", spends, `{"amount":"1","amount":"1"}`, nil, validity, "validation-failed", "amount"},
		{"duplicate metadata key", "POST", spends, `{"amount":"1","metadata":{"k":"a","k":"b"}}`, nil, validity, "validation-failed", "metadata.k"},
		{"field in upper case", "POST", spends, `{"AMOUNT":"1"}`, nil, validity, "validation-failed", "AMOUNT"},
		{"field in mixed case", "POST", grants, `{"amount":"1","Source":"bonus"}`, nil, validity, "validation-failed", "Source"},
		{"field in another case beside it", "POST", spends, `{"amount":"1","Amount":"1000"}`, nil, validity, "validation-failed", "Amount"},
		{"invalid UTF-8 in a reason", "POST", spends, "{\"amount\":\"1\",\"reason\":\"a\xffb\"}", nil, validity, "malformed-request", ""},
		{"invalid UTF-8 in a metadata key", "POST", spends, "{\"amount\":\"1\",\"metadata\":{\"\xc3\":\"v\"}}", nil, validity, "malformed-request", ""},
		{"lone surrogate escape", "POST", spends, `{"amount":"1","reason":"\udc00"}`, nil, validity, "malformed-request", ""},
		{"unknown field", "POST", spends, `{"amount":"1","amout":"2"}`, nil, validity, "validation-failed", "amout"},
		{"amount as number", "POST", spends, `{"amount":1}`, nil, validity, "validation-failed", "amount"},
		{"amount as float", "POST", spends, `{"amount":12.5}`, nil, validity, "validation-failed", "amount"},
		{"amount missing", "POST", spends, `{}`, nil, validity, "validation-failed", "amount"},
		{"amount null", "POST", spends, `{"amount":null}`, nil, validity, "validation-failed", "amount"},
		{"amount zero", "POST", spends, `{"amount":"0"}`, nil, validity, "validation-failed", "amount"},
		{"amount negative", "POST", spends, `{"amount":"-1"}`, nil, validity, "validation-failed", "amount"},
		{"amount not a number", "POST", spends, `{"amount":"ten"}`, nil, validity, "validation-failed", "amount"},
		{"amount exponent", "POST", spends, `{"amount":"1e2"}`, nil, validity, "validation-failed", "amount"},
		{"amount with space", "POST", spends, `{"amount":" 1"}`, nil, validity, "validation-failed", "amount"},
		{"amount with plus", "POST", spends, `{"amount":"+1"}`, nil, validity, "validation-failed", "amount"},
		{"amount over-precise", "POST", spends, `{"amount":"0.0000001"}`, nil, validity, "validation-failed", "amount"},
		{"amount too large", "POST", grants, `{"amount":"1000000000000000000","source":"bonus"}`, nil, validity, "validation-failed", "amount"},
		{"reason too long", "POST", spends, `{"amount":"1","reason":"` + strings.Repeat("r", 501) + `"}`, nil, validity, "validation-failed", "reason"},
		{"reason with NUL", "POST", spends, `{"amount":"1","reason":"a\u0000b"}`, nil, validity, "validation-failed", "reason"},
		{"metadata key with NUL", "POST", spends, `{"amount":"1","metadata":{"k\u0000":"v"}}`, nil, validity, "validation-failed", "metadata"},
		{"metadata value with NUL", "POST", grants, `{"amount":"1","source":"bonus","metadata":{"k":"\u0000"}}`, nil, validity, "validation-failed", "metadata"},
		{"hold reason with NUL", "POST", holds, `{"amount":"1","expiresInSeconds":60,"reason":"\u0000"}`, nil, validity, "validation-failed", "reason"},
		{"funding reference with NUL", "POST", grants, `{"amount":"1","source":"paid","fundingReference":"inv\u0000"}`, nil, validity, "validation-failed", "fundingReference"},
		{"funding reference with a tab", "POST", grants, `{"amount":"1","source":"paid","fundingReference":"inv\t7"}`, nil, validity, "validation-failed", "fundingReference"},
		{"funding reference too long", "POST", grants, `{"amount":"1","source":"paid","fundingReference":"` + strings.Repeat("f", 129) + `"}`, nil, validity, "validation-failed", "fundingReference"},
		{"funding reference not a string", "POST", grants, `{"amount":"1","source":"paid","fundingReference":{"kind":"order"}}`, nil, validity, "validation-failed", "fundingReference"},
		{"reason not a string", "POST", spends, `{"amount":"1","reason":7}`, nil, validity, "validation-failed", "reason"},
		{"metadata too many keys", "POST", spends, `{"amount":"1","metadata":{` + strings.Join(manyKeys, ",") + `}}`, nil, validity, "validation-failed", "metadata"},
		{"metadata key too long", "POST", spends, `{"amount":"1","metadata":{"` + strings.Repeat("k", 41) + `":"v"}}`, nil, validity, "validation-failed", "metadata"},
		{"metadata empty key", "POST", spends, `{"amount":"1","metadata":{"":"v"}}`, nil, validity, "validation-failed", "metadata"},
		{"metadata value too long", "POST", spends, `{"amount":"1","metadata":{"k":"` + strings.Repeat("v", 501) + `"}}`, nil, validity, "validation-failed", "metadata"},
		{"metadata value not a string", "POST", spends, `{"amount":"1","metadata":{"k":1}}`, nil, validity, "validation-failed", ""},
		{"metadata not an object", "POST", spends, `{"amount":"1","metadata":"x"}`, nil, validity, "validation-failed", "metadata"},
		{"source missing", "POST", grants, `{"amount":"1"}`, nil, validity, "validation-failed", "source"},
		{"source unknown", "POST", grants, `{"amount":"1","source":"free"}`, nil, validity, "validation-failed", "source"},
		{"expiresAt not a date", "POST", grants, `{"amount":"1","source":"bonus","expiresAt":"tomorrow"}`, nil, validity, "validation-failed", "expiresAt"},
		{"expiresAt without zone", "POST", grants, `{"amount":"1","source":"bonus","expiresAt":"2030-01-01T00:00:00"}`, nil, validity, "validation-failed", "expiresAt"},
		{"expiresAt now", "POST", grants, `{"amount":"1","source":"bonus","expiresAt":"2026-03-01T09:00:00Z"}`, nil, validity, "validation-failed", "expiresAt"},
		{"expiresAt past", "POST", grants, `{"amount":"1","source":"bonus","expiresAt":"2020-01-01T00:00:00Z"}`, nil, validity, "validation-failed", "expiresAt"},
		{"priority below", "POST", grants, `{"amount":"1","source":"bonus","priority":-1}`, nil, validity, "validation-failed", "priority"},
		{"priority above", "POST", grants, `{"amount":"1","source":"bonus","priority":101}`, nil, validity, "validation-failed", "priority"},
		{"priority fractional", "POST", grants, `{"amount":"1","source":"bonus","priority":1.5}`, nil, validity, "validation-failed", "priority"},
		{"priority string", "POST", grants, `{"amount":"1","source":"bonus","priority":"1"}`, nil, validity, "validation-failed", "priority"},
		{"hold duration missing", "POST", holds, `{"amount":"1"}`, nil, validity, "validation-failed", "expiresInSeconds"},
		{"hold duration zero", "POST", holds, `{"amount":"1","expiresInSeconds":0}`, nil, validity, "validation-failed", "expiresInSeconds"},
		{"hold duration too long", "POST", holds, `{"amount":"1","expiresInSeconds":2592001}`, nil, validity, "validation-failed", "expiresInSeconds"},
		{"hold duration huge", "POST", holds, `{"amount":"1","expiresInSeconds":1e30}`, nil, validity, "validation-failed", "expiresInSeconds"},
		{"hold duration string", "POST", holds, `{"amount":"1","expiresInSeconds":"60"}`, nil, validity, "validation-failed", "expiresInSeconds"},
		{"capture amount bad", "POST", capture, `{"amount":"abc"}`, nil, validity, "validation-failed", "amount"},
		{"capture unknown field", "POST", capture, `{"amount":"1","all":true}`, nil, validity, "validation-failed", "all"},
		{"release unknown field", "POST", release, `{"force":true}`, nil, validity, "validation-failed", "force"},
		{"spend without a body or a content type", "POST", spends, ``, []reqOption{withoutHeader("Content-Type")}, validity, "malformed-request", ""},
		{"hold id not a UUID", "POST", "/v1/holds/nope/capture", `{"amount":"1"}`, nil, validity, "validation-failed", "holdId"},
		{"get hold id not a UUID", "GET", "/v1/holds/nope", ``, nil, validity, "validation-failed", "holdId"},
		{"account id too long", "POST", "/v1/accounts/" + longAccount + "/grants", `{"amount":"1","source":"bonus"}`, nil, validity, "validation-failed", "accountId"},
		{"account id control char", "GET", "/v1/accounts/a%0Ab", ``, nil, validity, "validation-failed", "accountId"},
		{"limit zero", "GET", history + "?limit=0", ``, nil, validity, "validation-failed", "limit"},
		{"limit too big", "GET", history + "?limit=201", ``, nil, validity, "validation-failed", "limit"},
		{"limit not a number", "GET", history + "?limit=ten", ``, nil, validity, "validation-failed", "limit"},
		{"cursor garbage", "GET", history + "?cursor=!!!", ``, nil, validity, "invalid-cursor", ""},
		{"cursor wrong length", "GET", history + "?cursor=AAAA", ``, nil, validity, "invalid-cursor", ""},
		{"no content type", "POST", spends, `{"amount":"1"}`, []reqOption{withoutHeader("Content-Type")}, 415, "unsupported-media-type", ""},
		{"text content type", "POST", spends, `{"amount":"1"}`, []reqOption{withHeader("Content-Type", "text/plain")}, 415, "unsupported-media-type", ""},
		{"form content type", "POST", spends, `amount=1`, []reqOption{withHeader("Content-Type", "application/x-www-form-urlencoded")}, 415, "unsupported-media-type", ""},
		{"body too large", "POST", spends, `{"amount":"1","reason":"` + strings.Repeat("r", 70<<10) + `"}`, nil, 413, "request-too-large", ""},
		{"idempotency key missing", "POST", spends, `{"amount":"1"}`, []reqOption{withoutHeader("Idempotency-Key")}, validity, "idempotency-key-missing", ""},
		{"wrong method", "PUT", spends, `{"amount":"1"}`, nil, 405, "method-not-allowed", ""},
		{"unknown route", "POST", "/v1/accounts/user-1/refunds", `{"amount":"1"}`, nil, 404, "not-found", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := h.do(tc.method, tc.path, tc.body, tc.opts...)
			p := assertProblem(t, w, tc.status, tc.slug)
			if tc.field != "" {
				require.NotEmpty(t, p["errors"], "body: %s", w.Body.String())
				assert.Equal(t, tc.field, p["errors"].([]any)[0].(map[string]any)["field"], "body: %s", w.Body.String())
			}
			assert.Equal(t, before, h.ledgerSnapshot([]string{"user-1"}, []string{hold}), "the ledger changed")
		})
	}
}

func TestFieldErrorsAreCollected(t *testing.T) {
	h := newHarness(t)
	w := h.post("/v1/accounts/"+strings.Repeat("a", 129)+"/grants",
		`{"amount":"-1","source":"gift","priority":500,"expiresAt":"soon","reason":"`+strings.Repeat("r", 501)+`"}`)
	p := assertProblem(t, w, http.StatusBadRequest, "validation-failed")
	var fields []string
	for _, e := range p["errors"].([]any) {
		e := e.(map[string]any)
		assert.NotEmpty(t, e["message"])
		assert.NotContains(t, e["message"], "invalid input:", "the prefix is redundant with the type")
		fields = append(fields, e["field"].(string))
	}
	assert.Equal(t, []string{"accountId", "amount", "source", "expiresAt", "priority", "reason"}, fields)
}

func TestBodyLimitIsConfigurable(t *testing.T) {
	h := newHarness(t, withMaxBody(64))
	h.grant("user-1", "1")
	before := h.ledgerSnapshot([]string{"user-1"}, nil)
	assertProblem(t, h.post("/v1/accounts/user-1/spends", `{"amount":"1","reason":"`+strings.Repeat("r", 60)+`"}`),
		http.StatusRequestEntityTooLarge, "request-too-large")

	// A body streamed without a length is cut off at the limit too.
	w := h.post("/v1/accounts/user-1/spends", `{"amount":"1","reason":"`+strings.Repeat("r", 60)+`"}`,
		func(r *http.Request) { r.ContentLength = -1 })
	assertProblem(t, w, http.StatusRequestEntityTooLarge, "request-too-large")
	assert.Equal(t, before, h.ledgerSnapshot([]string{"user-1"}, nil))
}
