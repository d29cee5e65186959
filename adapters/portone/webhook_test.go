package portone_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/adapters/portone"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
)

// testdata/webhook-vectors.json was made for creditd: each case was checked
// with PortOne's official JS SDK (Webhook.verify) at verifierNowUnix.
type vectorFile struct {
	VerifierNowUnix int64 `json:"verifierNowUnix"`
	Cases           []struct {
		Name             string `json:"name"`
		Secret           string `json:"secret"`
		WebhookID        string `json:"webhookId"`
		WebhookTimestamp string `json:"webhookTimestamp"`
		Body             string `json:"body"`
		WebhookSignature string `json:"webhookSignature"`
		Expect           string `json:"expect"`
		SDKReason        string `json:"sdkReason"`
	} `json:"cases"`
}

func TestWebhookVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/webhook-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatal(err)
	}
	if len(vf.Cases) < 8 {
		t.Fatalf("only %d vectors read", len(vf.Cases))
	}
	now := time.Unix(vf.VerifierNowUnix, 0)
	for _, c := range vf.Cases {
		t.Run(c.Name, func(t *testing.T) {
			v, err := portone.NewWebhookVerifier([]string{c.Secret})
			if err != nil {
				t.Fatal(err)
			}
			ev, err := v.Verify(application.WebhookDelivery{ID: c.WebhookID, Timestamp: c.WebhookTimestamp, Signature: c.WebhookSignature, Body: []byte(c.Body)}, now)
			switch c.Expect {
			case "valid":
				if err != nil {
					t.Fatalf("Verify: %v, want valid", err)
				}
				var body struct {
					Type string
					Data struct{ PaymentID, StoreID, CancellationID string }
				}
				if err := json.Unmarshal([]byte(c.Body), &body); err != nil {
					t.Fatal(err)
				}
				if ev.ID != c.WebhookID || ev.Type != body.Type || ev.Payment.String() != body.Data.PaymentID ||
					ev.StoreID != body.Data.StoreID || ev.CancellationID != body.Data.CancellationID {
					t.Errorf("event %+v does not match the body %s", ev, c.Body)
				}
				if want := time.Date(2026, 9, 21, 14, 13, 17, 0, time.UTC); !ev.OccurredAt.Equal(want) {
					t.Errorf("OccurredAt = %v, want %v", ev.OccurredAt, want)
				}
			case "invalid":
				assertRejected(t, err, application.WebhookRejection(c.SDKReason))
			default:
				t.Fatalf("unknown expect %q", c.Expect)
			}
		})
	}
}

// TestWebhookReadmeVector is the vector of PortOne's SDK test suite.
func TestWebhookReadmeVector(t *testing.T) {
	body := `{"type":"Transaction.Paid","timestamp":"2024-04-25T10:00:00.000Z","data":{"paymentId":"example-payment-id","storeId":"store-ae356798-3d20-4969-b739-14c6b0e1a667","transactionId":"55451513-9763-4a7a-bb43-78a4c65be843"}}`
	for _, secret := range []string{"pzQGE83cSIRKM4/WH5QY+g==", "whsec_pzQGE83cSIRKM4/WH5QY+g=="} {
		v, err := portone.NewWebhookVerifier([]string{secret})
		if err != nil {
			t.Fatal(err)
		}
		d := application.WebhookDelivery{ID: "dummy-webhook-id", Timestamp: "1714039200", Signature: "v1,qmNcYHU8w9hP22fshTiuuIP9XZrhl6h0hjCr1zh7DRs=", Body: []byte(body)}
		ev, err := v.Verify(d, time.Unix(1714039200+299, 0))
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if ev.Payment.String() != "example-payment-id" || ev.Type != "Transaction.Paid" {
			t.Errorf("event %+v", ev)
		}
	}
}

const (
	secretA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	secretB = "c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24="
)

// sign is Standard Webhooks' v1 signature, written out for the tests.
func sign(t *testing.T, secret, id, ts, body string) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + body))
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestWebhookVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	paid := `{"type":"Transaction.Paid","timestamp":"2027-01-15T08:00:00Z","data":{"paymentId":"ord-1","storeId":"store-1","transactionId":"tx-1"}}`
	tests := []struct {
		name    string
		secrets []string
		d       application.WebhookDelivery
		want    application.WebhookRejection // "" for valid
		check   func(t *testing.T, ev application.WebhookEvent)
	}{
		{name: "rotation: signed with the second secret", secrets: []string{secretA, secretB},
			d: application.WebhookDelivery{ID: "m1", Timestamp: ts, Signature: sign(t, secretB, "m1", ts, paid), Body: []byte(paid)}},
		{name: "several signatures, one matches", secrets: []string{secretA},
			d: application.WebhookDelivery{ID: "m1", Timestamp: ts, Signature: "v2,AAAA v1,!!notbase64 v1," + base64.StdEncoding.EncodeToString([]byte("nope")) + " " + sign(t, secretA, "m1", ts, paid), Body: []byte(paid)}},
		{name: "right signature under another version", secrets: []string{secretA},
			d:    application.WebhookDelivery{ID: "m1", Timestamp: ts, Signature: "v1a," + strings.TrimPrefix(sign(t, secretA, "m1", ts, paid), "v1,"), Body: []byte(paid)},
			want: application.WebhookNoMatchingSignature},
		{name: "missing id", secrets: []string{secretA},
			d:    application.WebhookDelivery{Timestamp: ts, Signature: sign(t, secretA, "", ts, paid), Body: []byte(paid)},
			want: application.WebhookMissingHeaders},
		{name: "missing timestamp", secrets: []string{secretA},
			d:    application.WebhookDelivery{ID: "m1", Signature: sign(t, secretA, "m1", "", paid), Body: []byte(paid)},
			want: application.WebhookMissingHeaders},
		{name: "timestamp not an integer", secrets: []string{secretA},
			d:    application.WebhookDelivery{ID: "m1", Timestamp: ts + ".0", Signature: sign(t, secretA, "m1", ts+".0", paid), Body: []byte(paid)},
			want: application.WebhookInvalidSignature},
		{name: "exactly 5 minutes old", secrets: []string{secretA},
			d: application.WebhookDelivery{ID: "m1", Timestamp: strconv.FormatInt(now.Unix()-300, 10), Signature: sign(t, secretA, "m1", strconv.FormatInt(now.Unix()-300, 10), paid), Body: []byte(paid)}},
		{name: "signed body is not an object", secrets: []string{secretA},
			d:    application.WebhookDelivery{ID: "m1", Timestamp: ts, Signature: sign(t, secretA, "m1", ts, `[1,2]`), Body: []byte(`[1,2]`)},
			want: application.WebhookMalformedBody},
		{name: "signed body is null", secrets: []string{secretA},
			d:    application.WebhookDelivery{ID: "m1", Timestamp: ts, Signature: sign(t, secretA, "m1", ts, `null`), Body: []byte(`null`)},
			want: application.WebhookMalformedBody},
		{name: "unknown type and fields are kept, not refused", secrets: []string{secretA},
			d: func() application.WebhookDelivery {
				b := `{"type":"Transaction.Teleported","timestamp":"2027-01-15T08:00:00Z","data":{"paymentId":"ord-2","storeId":"store-1","warp":{"factor":9}},"extra":true}`
				return application.WebhookDelivery{ID: "m2", Timestamp: ts, Signature: sign(t, secretA, "m2", ts, b), Body: []byte(b)}
			}(),
			check: func(t *testing.T, ev application.WebhookEvent) {
				if ev.Type != "Transaction.Teleported" || ev.Payment.String() != "ord-2" {
					t.Errorf("event %+v", ev)
				}
			}},
		{name: "a payment id creditd never makes leaves Payment zero", secrets: []string{secretA},
			d: func() application.WebhookDelivery {
				b := `{"type":"Transaction.Paid","timestamp":"2027-01-15T08:00:00Z","data":{"paymentId":"주문/1","storeId":"store-1"}}`
				return application.WebhookDelivery{ID: "m3", Timestamp: ts, Signature: sign(t, secretA, "m3", ts, b), Body: []byte(b)}
			}(),
			check: func(t *testing.T, ev application.WebhookEvent) {
				if !ev.Payment.IsZero() || ev.Type != "Transaction.Paid" || ev.ID != "m3" {
					t.Errorf("event %+v", ev)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := portone.NewWebhookVerifier(tt.secrets)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := v.Verify(tt.d, now)
			if tt.want != "" {
				assertRejected(t, err, tt.want)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tt.check != nil {
				tt.check(t, ev)
			}
		})
	}
}

func TestNewWebhookVerifierRefusesBadSecrets(t *testing.T) {
	for _, secrets := range [][]string{nil, {"whsec_not base64!"}, {""}, {"whsec_"}, {secretA, secretB, secretA}, {secretA, "%%%"}} {
		_, err := portone.NewWebhookVerifier(secrets)
		if err == nil {
			t.Errorf("NewWebhookVerifier(%q) accepted", secrets)
			continue
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(err.Error(), strings.TrimPrefix(s, "whsec_")) && strings.TrimPrefix(s, "whsec_") != "" {
				t.Errorf("error %q shows the secret", err)
			}
		}
	}
}

func assertRejected(t *testing.T, err error, want application.WebhookRejection) {
	t.Helper()
	var iw *application.InvalidWebhookError
	if !errors.Is(err, application.ErrInvalidWebhook) || !errors.As(err, &iw) {
		t.Fatalf("Verify: %v, want an InvalidWebhookError %s", err, want)
	}
	if iw.Reason != want {
		t.Errorf("rejected for %s, want %s", iw.Reason, want)
	}
}

// The fake's webhooks, as the lead's integration tests will send them, pass.
func TestWebhookFromTheFake(t *testing.T) {
	sb := startSandbox(t, sandbox.Config{})
	sb.Pay("ord-w", sandbox.PaidWith{Total: 1000})
	v, err := portone.NewWebhookVerifier([]string{secretB, secretA})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan application.WebhookEvent, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := v.Verify(application.WebhookDelivery{ID: r.Header.Get("webhook-id"), Timestamp: r.Header.Get("webhook-timestamp"),
			Signature: r.Header.Get("webhook-signature"), Body: body}, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		events <- ev
	}))
	defer app.Close()
	status, err := sb.SendWebhookWithID(context.Background(), app.URL, secretA, "msg_w1", "Transaction.PartialCancelled", "ord-w", "c-1")
	if err != nil || status != http.StatusOK {
		t.Fatalf("SendWebhook: %d %v", status, err)
	}
	ev := <-events
	p, _ := sb.Payment("ord-w")
	if ev.ID != "msg_w1" || ev.Type != "Transaction.PartialCancelled" || ev.Payment.String() != "ord-w" || ev.StoreID != p.StoreID ||
		ev.CancellationID != "c-1" || time.Since(ev.OccurredAt) > time.Minute {
		t.Errorf("event %+v", ev)
	}
}
