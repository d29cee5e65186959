package domain_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/domain"
)

var testSecret = domain.NewWebhookSecret([32]byte{1, 2, 3})

func TestWebhookURLs(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", domain.MaxWebhookURLLength)
	for _, tc := range []struct {
		url          string
		allowPrivate bool
		ok           bool
	}{
		{"https://example.com/hooks", false, true},
		{"https://example.com:8443/hooks?x=1", false, true},
		{"https://93.184.216.34/hooks", false, true},
		{"https://[2606:2800:220:1:248:1893:25c8:1946]/hooks", false, true},
		{"http://example.com/hooks", false, false},
		{"http://example.com/hooks", true, true},
		{"ftp://example.com/hooks", true, false},
		{"", false, false},
		{"/hooks", false, false},
		{"example.com/hooks", false, false},
		{"https:///hooks", false, false},
		{"https://user:pass@example.com/hooks", false, false},
		{"https://user@example.com/hooks", true, false},
		{"https://example.com/hooks#frag", false, false},
		{"https://example.com/hooks#", false, false},
		{long, false, false},
		{"https://localhost/hooks", false, false},
		{"https://api.localhost/hooks", false, false},
		{"https://localhost/hooks", true, true},
		{"https://127.0.0.1/hooks", false, false},
		{"https://10.1.2.3/hooks", false, false},
		{"https://172.16.0.1/hooks", false, false},
		{"https://192.168.1.1/hooks", false, false},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"https://100.64.0.1/hooks", false, false},
		{"https://0.0.0.0/hooks", false, false},
		{"https://[::1]/hooks", false, false},
		{"https://[fe80::1]/hooks", false, false},
		{"https://[fd00::1]/hooks", false, false},
		{"https://[::ffff:127.0.0.1]/hooks", false, false},
		{"https://127.0.0.1/hooks", true, true},
	} {
		_, err := domain.CheckWebhookURL(tc.url, domain.URLPolicy{AllowPrivate: tc.allowPrivate})
		if (err == nil) != tc.ok {
			t.Errorf("%.60q (allowPrivate %v): err %v, want ok %v", tc.url, tc.allowPrivate, err, tc.ok)
		}
		var ferr *domain.InvalidFieldError
		if err != nil && (!errors.Is(err, domain.ErrInvalidInput) || !errors.As(err, &ferr) || ferr.Field != "url") {
			t.Errorf("%.60q: %v is not an invalid url field", tc.url, err)
		}
	}
}

func TestPublicAddr(t *testing.T) {
	for addr, public := range map[string]bool{"8.8.8.8": true, "1.1.1.1": true, "2001:4860:4860::8888": true, "127.0.0.2": false,
		"10.0.0.1": false, "::": false, "224.0.0.1": false, "198.18.0.1": false, "::ffff:10.0.0.1": false, "64:ff9b::a00:1": false} {
		if got := domain.PublicAddr(netip.MustParseAddr(addr)); got != public {
			t.Errorf("PublicAddr(%s) = %v", addr, got)
		}
	}
}

func TestNewWebhookEndpoint(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	e, err := domain.NewWebhookEndpoint(domain.WebhookEndpointID{1}, domain.TenantID{2}, "https://example.com/h",
		[]domain.EventType{domain.EventOrderPaid, domain.EventOrderPaid, domain.EventBalanceLow}, testSecret, now, domain.URLPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Events(); len(got) != 2 || got[0] != domain.EventOrderPaid || got[1] != domain.EventBalanceLow {
		t.Errorf("events %v: want each named type once, in order", got)
	}
	if !e.Receives(domain.EventOrderPaid) || e.Receives(domain.EventTransactionCreated) {
		t.Error("an endpoint receives exactly the types it names")
	}
	all, err := domain.NewWebhookEndpoint(domain.WebhookEndpointID{1}, domain.TenantID{2}, "https://example.com/h", nil, testSecret, now, domain.URLPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range domain.EventTypes {
		if !all.Receives(typ) {
			t.Errorf("an endpoint naming no type does not receive %s", typ)
		}
	}
	if _, err := domain.NewWebhookEndpoint(domain.WebhookEndpointID{1}, domain.TenantID{2}, "https://example.com/h",
		[]domain.EventType{{}}, testSecret, now, domain.URLPolicy{}); !errors.Is(err, domain.ErrInvalidInput) {
		t.Errorf("a zero event type: %v", err)
	}
	for _, bad := range []string{"", "whsec_", "whsec_" + strings.Repeat("A", 43), "sk_" + strings.TrimPrefix(testSecret, "whsec_"),
		domain.NewWebhookSecret([32]byte{})[:40], "whsec_" + "AAAA"} {
		if _, err := domain.NewWebhookEndpoint(domain.WebhookEndpointID{1}, domain.TenantID{2}, "https://example.com/h", nil, bad, now,
			domain.URLPolicy{}); !errors.Is(err, domain.ErrInvalidInput) {
			t.Errorf("secret %q accepted", bad)
		}
	}
}

func TestWebhookSecretFormat(t *testing.T) {
	s := domain.NewWebhookSecret([32]byte{0xff, 0xee})
	if !strings.HasPrefix(s, "whsec_") || len(s) != len("whsec_")+44 || !domain.ValidWebhookSecret(s) {
		t.Errorf("secret %q: want whsec_ and 44 base64 characters", s)
	}
}
