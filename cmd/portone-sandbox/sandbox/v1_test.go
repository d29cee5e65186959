package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
)

// v1call sends one V1 request with token (none when "") and reads the envelope.
func v1call(t *testing.T, sb *sandbox.Server, method, path string, body any, token string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, sb.V1URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		t.Fatalf("%s %s: %d %q is not JSON", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func v1token(t *testing.T, sb *sandbox.Server) string {
	t.Helper()
	code, env := v1call(t, sb, "POST", "/users/getToken", map[string]string{"imp_key": sb.V1IMPKey, "imp_secret": sb.V1IMPSecret}, "")
	if code != 200 || env["code"] != json.Number("0") {
		t.Fatalf("getToken: %d %v", code, env)
	}
	return env["response"].(map[string]any)["access_token"].(string)
}

// v1want checks an answer's HTTP status and envelope code, and returns its response.
func v1want(t *testing.T, status int, env map[string]any, wantStatus int, wantCode string) map[string]any {
	t.Helper()
	if status != wantStatus || env["code"] != json.Number(wantCode) {
		t.Fatalf("answered %d %v, want %d code %s", status, env, wantStatus, wantCode)
	}
	r, _ := env["response"].(map[string]any)
	return r
}

func TestV1Token(t *testing.T) {
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	sb := startSandbox(t, sandbox.Config{Now: func() time.Time { return clock }})
	sb.Pay("ord-1", sandbox.PaidWith{Total: 1000})

	code, env := v1call(t, sb, "POST", "/users/getToken", map[string]string{"imp_key": sb.V1IMPKey, "imp_secret": sb.V1IMPSecret}, "")
	r := v1want(t, code, env, 200, "0")
	tok, _ := r["access_token"].(string)
	if tok == "" || r["now"] != json.Number("1798804800") || r["expired_at"] != json.Number("1798806600") {
		t.Fatalf("token answer %v: want a token living 30 minutes from now", r)
	}
	if _, env := v1call(t, sb, "POST", "/users/getToken", map[string]string{"imp_key": sb.V1IMPKey, "imp_secret": sb.V1IMPSecret}, ""); env["response"].(map[string]any)["access_token"] != tok {
		t.Errorf("a second getToken before expiry gives another token: %v", env)
	}
	for _, bad := range []map[string]string{{"imp_key": sb.V1IMPKey, "imp_secret": "wrong"}, {"imp_key": "wrong", "imp_secret": sb.V1IMPSecret}, {}} {
		code, env := v1call(t, sb, "POST", "/users/getToken", bad, "")
		v1want(t, code, env, 401, "-1")
	}
	// A form body works as JSON does.
	resp, err := http.Post(sb.V1URL()+"/users/getToken", "application/x-www-form-urlencoded",
		strings.NewReader("imp_key="+sb.V1IMPKey+"&imp_secret="+sb.V1IMPSecret))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("form getToken: %d", resp.StatusCode)
	}

	okV1(t)(v1call(t, sb, "GET", "/payments/find/ord-1", nil, tok))
	for _, token := range []string{"", "unknown"} {
		code, env := v1call(t, sb, "GET", "/payments/find/ord-1", nil, token)
		v1want(t, code, env, 401, "-1")
	}
	// The other ways PortOne takes a token.
	for _, h := range [][2]string{{"Authorization", tok}, {"X-ImpTokenHeader", tok}} {
		req, _ := http.NewRequest("GET", sb.V1URL()+"/payments/find/ord-1", nil)
		req.Header.Set(h[0], h[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("token in %s: %d", h[0], resp.StatusCode)
		}
	}
	// Asked for in its last minute, the token lives 5 minutes longer.
	clock = now.Add(29*time.Minute + 30*time.Second)
	code, env = v1call(t, sb, "POST", "/users/getToken", map[string]string{"imp_key": sb.V1IMPKey, "imp_secret": sb.V1IMPSecret}, "")
	if r := v1want(t, code, env, 200, "0"); r["access_token"] != tok || r["expired_at"] != json.Number("1798806900") {
		t.Errorf("getToken in the token's last minute: %v, want the same token until 12:35", r)
	}
	clock = now.Add(35 * time.Minute)
	code, env = v1call(t, sb, "GET", "/payments/find/ord-1", nil, tok)
	v1want(t, code, env, 401, "-1")
	tok2 := v1token(t, sb)
	if tok2 == tok {
		t.Fatal("getToken after expiry gives the expired token")
	}
	okV1(t)(v1call(t, sb, "GET", "/payments/find/ord-1", nil, tok2))
	if n := sb.ExpireV1Tokens(); n != 1 {
		t.Errorf("ExpireV1Tokens expired %d tokens, want 1", n)
	}
	code, env = v1call(t, sb, "GET", "/payments/find/ord-1", nil, tok2)
	v1want(t, code, env, 401, "-1")
	// The control does the same.
	tok3 := v1token(t, sb)
	resp, err = http.Post(sb.URL+"/sandbox/v1/tokens/expire", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	code, _ = v1call(t, sb, "GET", "/payments/find/ord-1", nil, tok3)
	if resp.StatusCode != 200 || code != 401 {
		t.Errorf("POST /sandbox/v1/tokens/expire: %d, then a call with the token: %d", resp.StatusCode, code)
	}
}

// okV1 takes v1call's answer, wants a success and returns its response.
func okV1(t *testing.T) func(int, map[string]any) map[string]any {
	return func(status int, env map[string]any) map[string]any {
		t.Helper()
		return v1want(t, status, env, 200, "0")
	}
}

func TestV1PaymentShapes(t *testing.T) {
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	sb := startSandbox(t, sandbox.Config{Now: func() time.Time { return now }})
	tok := v1token(t, sb)
	sb.Ready("p-ready", sandbox.PaidWith{Total: 1000, OrderName: "ready"})
	sb.IssueVirtualAccount("p-va", sandbox.PaidWith{Total: 2000})
	sb.Pay("p-paid", sandbox.PaidWith{Total: 3000, OrderName: "100 credits", CustomData: `{"a":1}`})
	sb.Pay("p-part", sandbox.PaidWith{Total: 4000})
	if _, err := sb.CancelFromConsoleFor("p-part", 1000, "part"); err != nil {
		t.Fatal(err)
	}
	sb.Pay("p-cancelled", sandbox.PaidWith{Total: 5000})
	if _, err := sb.CancelFromConsole("p-cancelled", 0); err != nil {
		t.Fatal(err)
	}
	sb.Fail("p-failed", "card declined")
	want := map[string]struct {
		status              string
		amount, cancelAmt   string
		payMethod           string
		paidAt, cancelledAt bool
	}{
		"p-ready":     {"ready", "1000", "0", "card", false, false},
		"p-va":        {"ready", "2000", "0", "vbank", false, false},
		"p-paid":      {"paid", "3000", "0", "card", true, false},
		"p-part":      {"paid", "4000", "1000", "card", true, true},
		"p-cancelled": {"cancelled", "5000", "5000", "card", true, true},
		"p-failed":    {"failed", "0", "0", "card", false, false},
	}
	ts := json.Number("1798804800")
	for id, w := range want {
		p := okV1(t)(v1call(t, sb, "GET", "/payments/find/"+id, nil, tok))
		stored, _ := sb.Payment(id)
		if p["merchant_uid"] != id || p["imp_uid"] != stored.ImpUID || !strings.HasPrefix(stored.ImpUID, "imp_") || len(stored.ImpUID) != 16 ||
			p["status"] != w.status || p["amount"] != json.Number(w.amount) || p["cancel_amount"] != json.Number(w.cancelAmt) ||
			p["currency"] != "KRW" || p["pay_method"] != w.payMethod || p["started_at"] != ts {
			t.Errorf("%s: %v", id, p)
		}
		if (p["paid_at"] == ts) != w.paidAt || (p["cancelled_at"] == ts) != w.cancelledAt {
			t.Errorf("%s: paid_at %v, cancelled_at %v", id, p["paid_at"], p["cancelled_at"])
		}
		// The same payment by its imp_uid.
		byImp := okV1(t)(v1call(t, sb, "GET", "/payments/"+stored.ImpUID, nil, tok))
		if byImp["merchant_uid"] != id {
			t.Errorf("GET /payments/%s: %v", stored.ImpUID, byImp)
		}
	}
	va := okV1(t)(v1call(t, sb, "GET", "/payments/find/p-va", nil, tok))
	if va["vbank_code"] != "088" || va["vbank_name"] != "신한은행" || va["vbank_num"] == "" || va["vbank_holder"] != "creditd" ||
		va["vbank_date"] != json.Number("1799064000") {
		t.Errorf("virtual account: %v", va)
	}
	paid := okV1(t)(v1call(t, sb, "GET", "/payments/find/p-paid", nil, tok))
	if paid["name"] != "100 credits" || paid["custom_data"] != `{"a":1}` || len(paid["cancel_history"].([]any)) != 0 {
		t.Errorf("paid: %v", paid)
	}
	failed := okV1(t)(v1call(t, sb, "GET", "/payments/find/p-failed", nil, tok))
	if failed["failed_at"] != ts || failed["fail_reason"] != "card declined" {
		t.Errorf("failed: %v", failed)
	}
	part := okV1(t)(v1call(t, sb, "GET", "/payments/find/p-part", nil, tok))
	h := part["cancel_history"].([]any)
	if len(h) != 1 || h[0].(map[string]any)["amount"] != json.Number("1000") || h[0].(map[string]any)["reason"] != "part" ||
		h[0].(map[string]any)["cancelled_at"] != ts || h[0].(map[string]any)["pg_tid"] == "" {
		t.Errorf("cancel_history %v", h)
	}
	// The V2 API sees the same payment.
	if code, p := call(t, sb, "GET", "/payments/p-part", nil, nil); code != 200 || p["status"] != "PARTIAL_CANCELLED" {
		t.Errorf("V2 view: %d %v", code, p)
	}
	for _, path := range []string{"/payments/find/nope", "/payments/imp_999999999999"} {
		code, env := v1call(t, sb, "GET", path, nil, tok)
		v1want(t, code, env, 404, "-1")
	}
	code, env := v1call(t, sb, "GET", "/no/such/endpoint", nil, tok)
	v1want(t, code, env, 404, "-1")
}

func TestV1Prepare(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	tok := v1token(t, sb)
	r := okV1(t)(v1call(t, sb, "POST", "/payments/prepare", map[string]any{"merchant_uid": "ord-1", "amount": 10000, "currency": "KRW"}, tok))
	if r["merchant_uid"] != "ord-1" || r["amount"] != json.Number("10000") {
		t.Errorf("prepare answered %v", r)
	}
	if total, cur, ok := sb.PreRegistered("ord-1"); !ok || total != 10000 || cur != "KRW" {
		t.Fatalf("pre-registered %d %s %v", total, cur, ok)
	}
	// V2's enforcement applies: another amount fails.
	if p := sb.Pay("ord-1", sandbox.PaidWith{Total: 9000}); p.Status != sandbox.StatusFailed {
		t.Errorf("a payment of another amount is %s", p.Status)
	}
	if p := sb.Pay("ord-1", sandbox.PaidWith{Total: 10000}); p.Status != sandbox.StatusPaid {
		t.Errorf("a payment of the prepared amount is %s", p.Status)
	}
	code, env := v1call(t, sb, "POST", "/payments/prepare", map[string]any{"merchant_uid": "ord-1", "amount": 10000}, tok)
	v1want(t, code, env, 200, "1")
	for _, bad := range []map[string]any{{"merchant_uid": "ord-2"}, {"amount": 1}, {"merchant_uid": "ord-2", "amount": 1.5}, {"merchant_uid": "ord-2", "amount": -1}} {
		code, env := v1call(t, sb, "POST", "/payments/prepare", bad, tok)
		v1want(t, code, env, 400, "-1")
	}
	code, env = v1call(t, sb, "POST", "/payments/prepare", map[string]any{"merchant_uid": "ord-3", "amount": 1}, "")
	v1want(t, code, env, 401, "-1")
}

func TestV1Cancel(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	tok := v1token(t, sb)
	sb.Pay("ord-1", sandbox.PaidWith{Total: 10000})
	cancel := func(body map[string]any) (int, map[string]any) {
		return v1call(t, sb, "POST", "/payments/cancel", body, tok)
	}

	code, env := cancel(map[string]any{"merchant_uid": "ord-1", "amount": 3000, "checksum": 9000, "reason": "r"})
	v1want(t, code, env, 200, "1")
	if !strings.Contains(env["message"].(string), "checksum") {
		t.Errorf("checksum refusal says %v", env["message"])
	}
	if p, _ := sb.Payment("ord-1"); p.Cancelled != 0 {
		t.Fatalf("a refused cancel cancelled %d", p.Cancelled)
	}
	p := okV1(t)(cancel(map[string]any{"merchant_uid": "ord-1", "amount": 3000, "checksum": 10000, "reason": "part"}))
	if p["status"] != "paid" || p["cancel_amount"] != json.Number("3000") || len(p["cancel_history"].([]any)) != 1 {
		t.Errorf("partial cancel answered %v", p)
	}
	code, env = cancel(map[string]any{"merchant_uid": "ord-1", "amount": 8000, "reason": "too much"})
	v1want(t, code, env, 200, "1")
	// By imp_uid, no amount: the rest.
	stored, _ := sb.Payment("ord-1")
	p = okV1(t)(cancel(map[string]any{"imp_uid": stored.ImpUID, "checksum": 7000, "reason": "rest"}))
	if p["status"] != "cancelled" || p["cancel_amount"] != json.Number("10000") || len(p["cancel_history"].([]any)) != 2 {
		t.Errorf("full cancel answered %v", p)
	}
	if p["cancel_reason"] != "rest" {
		t.Errorf("cancel_reason %v", p["cancel_reason"])
	}
	if stored, _ = sb.Payment("ord-1"); stored.Status != sandbox.StatusCancelled || stored.Cancelled != 10000 {
		t.Errorf("stored %s %d", stored.Status, stored.Cancelled)
	}
	code, env = cancel(map[string]any{"merchant_uid": "ord-1", "reason": "again"})
	v1want(t, code, env, 200, "1")
	if env["message"] != "이미 전액취소된 주문입니다." {
		t.Errorf("cancelling again says %v", env["message"])
	}
	sb.Ready("ord-ready", sandbox.PaidWith{Total: 1})
	for _, body := range []map[string]any{{"merchant_uid": "nope"}, {"imp_uid": "imp_999999999999"}, {"reason": "no id"}, {"merchant_uid": "ord-ready"}} {
		code, env := cancel(body)
		v1want(t, code, env, 200, "1")
	}
	code, env = v1call(t, sb, "POST", "/payments/cancel", map[string]any{"merchant_uid": "ord-1"}, "")
	v1want(t, code, env, 401, "-1")
}

func TestV1List(t *testing.T) {
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	sb := startSandbox(t, sandbox.Config{Now: func() time.Time { return now }})
	tok := v1token(t, sb)
	for i, st := range []string{"PAID", "READY", "PAID", "CANCELLED", "FAILED"} {
		at := now.Add(time.Duration(i-10) * time.Minute)
		p := sandbox.Payment{ID: string(rune('a' + i)), Status: st, Total: 100, RequestedAt: at}
		switch st {
		case "PAID":
			p.PaidAt = at
		case "CANCELLED":
			p.PaidAt, p.CancelledAt, p.Cancelled = at, at, 100
		case "FAILED":
			p.FailedAt = at
		}
		sb.SetPayment(p)
	}
	list := func(query string) map[string]any {
		t.Helper()
		return okV1(t)(v1call(t, sb, "GET", query, nil, tok))
	}
	ids := func(r map[string]any) string {
		var out []string
		for _, p := range r["list"].([]any) {
			out = append(out, p.(map[string]any)["merchant_uid"].(string))
		}
		return strings.Join(out, " ")
	}
	r := list("/payments/status/all?page=1&limit=2&sorting=started")
	if ids(r) != "a b" || r["total"] != json.Number("5") || r["previous"] != json.Number("0") || r["next"] != json.Number("2") {
		t.Errorf("page 1: %v", r)
	}
	r = list("/payments/status/all?page=3&limit=2&sorting=started")
	if ids(r) != "e" || r["previous"] != json.Number("2") || r["next"] != json.Number("0") {
		t.Errorf("last page: %v", r)
	}
	if r = list("/payments/status/all"); ids(r) != "e d c b a" {
		t.Errorf("default sorting -started: %v", ids(r))
	}
	for status, want := range map[string]string{"paid": "a c", "ready": "b", "cancelled": "d", "failed": "e"} {
		if r = list("/payments/status/" + status + "?sorting=started"); ids(r) != want {
			t.Errorf("%s: %v, want %s", status, ids(r), want)
		}
	}
	from := now.Add(-9 * time.Minute).Unix()
	to := now.Add(-8 * time.Minute).Unix()
	if r = list("/payments/status/all?sorting=started&from=" + itoa(from) + "&to=" + itoa(to)); ids(r) != "b c" {
		t.Errorf("from..to (inclusive): %v", ids(r))
	}
	for _, bad := range []string{"/payments/status/pending", "/payments/status/all?limit=1001", "/payments/status/all?page=0",
		"/payments/status/all?sorting=name", "/payments/status/all?from=x"} {
		code, env := v1call(t, sb, "GET", bad, nil, tok)
		v1want(t, code, env, 400, "-1")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestV1Faults(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	tok := v1token(t, sb)
	sb.Pay("ord-1", sandbox.PaidWith{Total: 1})
	sb.FailNext(1, 503)
	code, env := v1call(t, sb, "GET", "/payments/find/ord-1", nil, tok)
	v1want(t, code, env, 503, "-1")
	okV1(t)(v1call(t, sb, "GET", "/payments/find/ord-1", nil, tok))
	// PUT /sandbox/faults applies to V1 too, getToken included.
	req, _ := http.NewRequest("PUT", sb.URL+"/sandbox/faults", strings.NewReader(`{"api":{"failNext":1}}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	code, env = v1call(t, sb, "POST", "/users/getToken", map[string]string{"imp_key": sb.V1IMPKey, "imp_secret": sb.V1IMPSecret}, "")
	v1want(t, code, env, 500, "-1")
	sb.FailNextRaw(1, 502, "<html>bad gateway</html>")
	req, _ = http.NewRequest("GET", sb.V1URL()+"/payments/find/ord-1", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || string(raw) != "<html>bad gateway</html>" {
		t.Errorf("raw failure: %d %q", resp.StatusCode, raw)
	}
}

func TestV1Prefix(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{V1Prefix: "iamport/"})
	if sb.V1URL() != sb.URL+"/iamport" {
		t.Fatalf("V1URL %s", sb.V1URL())
	}
	tok := v1token(t, sb)
	sb.Pay("ord-1", sandbox.PaidWith{Total: 1})
	okV1(t)(v1call(t, sb, "GET", "/payments/find/ord-1", nil, tok))
	// V2's GET /payments/{id} is untouched.
	if code, p := call(t, sb, "GET", "/payments/ord-1", nil, nil); code != 200 || p["status"] != "PAID" {
		t.Errorf("V2: %d %v", code, p)
	}
	if _, err := sandbox.New(sandbox.Config{V1Prefix: "/"}); err == nil {
		t.Error("a V1Prefix of / is accepted")
	}
}

// The lists filter on the time of each payment's status and sort as asked,
// not in creation order.
func TestV1ListTimes(t *testing.T) {
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	sb := startSandbox(t, sandbox.Config{Now: func() time.Time { return now }})
	tok := v1token(t, sb)
	sb.SetPayment(sandbox.Payment{ID: "x", Status: "PAID", Total: 1, RequestedAt: now.Add(-20 * time.Minute), PaidAt: now.Add(-time.Minute)})
	sb.SetPayment(sandbox.Payment{ID: "y", Status: "PAID", Total: 1, RequestedAt: now.Add(-10 * time.Minute), PaidAt: now.Add(-10 * time.Minute)})
	sb.SetPayment(sandbox.Payment{ID: "z", Status: "READY", Total: 1, RequestedAt: now.Add(-30 * time.Minute)})
	ids := func(query string) string {
		t.Helper()
		r := okV1(t)(v1call(t, sb, "GET", query, nil, tok))
		var out []string
		for _, p := range r["list"].([]any) {
			out = append(out, p.(map[string]any)["merchant_uid"].(string))
		}
		return strings.Join(out, " ")
	}
	if got := ids("/payments/status/paid?from=" + itoa(now.Add(-2*time.Minute).Unix()) + "&to=" + itoa(now.Unix())); got != "x" {
		t.Errorf("paid in the last two minutes: %q, want x (by paid_at, not started_at)", got)
	}
	if got := ids("/payments/status/all?sorting=started"); got != "z x y" {
		t.Errorf("sorting=started: %q", got)
	}
	if got := ids("/payments/status/all?sorting=paid"); got != "z y x" {
		t.Errorf("sorting=paid: %q", got)
	}
	if got := ids("/payments/status/all?sorting=-updated"); got != "x y z" {
		t.Errorf("sorting=-updated: %q", got)
	}
}

// Payments keep their imp_uid through SaveState and LoadState.
func TestV1ImpUIDSaved(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	paid := sb.Pay("ord-1", sandbox.PaidWith{Total: 1})
	var buf bytes.Buffer
	if err := sb.SaveState(&buf); err != nil {
		t.Fatal(err)
	}
	sb2 := startSandbox(t, sandbox.Config{})
	if err := sb2.LoadState(&buf); err != nil {
		t.Fatal(err)
	}
	p := okV1(t)(v1call(t, sb2, "GET", "/payments/"+paid.ImpUID, nil, v1token(t, sb2)))
	if p["merchant_uid"] != "ord-1" {
		t.Errorf("after LoadState: %v", p)
	}
	// A state saved before payments had an imp_uid gets one.
	old := `{"version":1,"seq":3,"payments":[{"ID":"ord-old","Status":"PAID","Total":5,"Currency":"KRW","Seq":3}]}`
	if err := sb2.LoadState(strings.NewReader(old)); err != nil {
		t.Fatal(err)
	}
	if p, _ := sb2.Payment("ord-old"); p.ImpUID != "imp_000000000003" {
		t.Errorf("an old state's payment has imp_uid %q", p.ImpUID)
	}
	// A replaced payment keeps its imp_uid; a new one gets another.
	if again := sb.Pay("ord-1", sandbox.PaidWith{Total: 1}); again.ImpUID != paid.ImpUID {
		t.Errorf("replaced: %s, was %s", again.ImpUID, paid.ImpUID)
	}
	if other := sb.Pay("ord-2", sandbox.PaidWith{Total: 1}); other.ImpUID == paid.ImpUID || other.ImpUID == "" {
		t.Errorf("another payment's imp_uid %q", other.ImpUID)
	}
}
