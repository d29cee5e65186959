package domain

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// WebhookEndpointID names a tenant's webhook endpoint.
type WebhookEndpointID uuid.UUID

func (id WebhookEndpointID) String() string { return uuid.UUID(id).String() }

// ParseWebhookEndpointID parses the text form of an endpoint id.
func ParseWebhookEndpointID(s string) (WebhookEndpointID, error) {
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return WebhookEndpointID{}, fmt.Errorf("%w: webhook endpoint id %q is not a UUID", ErrInvalidInput, s)
	}
	return WebhookEndpointID(u), nil
}

// MaxWebhookEndpoints bounds a tenant's live endpoints: every event is
// delivered to each of them, so their number multiplies the work.
const MaxWebhookEndpoints = 20

// MaxWebhookURLLength bounds an endpoint's URL.
const MaxWebhookURLLength = 2048

// ErrWebhookEndpointLimit: the tenant has MaxWebhookEndpoints endpoints already.
var ErrWebhookEndpointLimit = rejection("the tenant has the most webhook endpoints allowed")

// webhookSecretPrefix starts every endpoint secret, as Standard Webhooks has it.
const webhookSecretPrefix = "whsec_"

// WebhookSecretBytes is the length of an endpoint's signing key.
const WebhookSecretBytes = 32

// NewWebhookSecret formats a signing key as an endpoint secret: whsec_ and
// its base64.
func NewWebhookSecret(key [WebhookSecretBytes]byte) string {
	return webhookSecretPrefix + base64.StdEncoding.EncodeToString(key[:])
}

// ValidWebhookSecret reports whether s is whsec_ and base64 of a
// WebhookSecretBytes-byte key.
func ValidWebhookSecret(s string) bool {
	rest, ok := strings.CutPrefix(s, webhookSecretPrefix)
	if !ok {
		return false
	}
	key, err := base64.StdEncoding.Strict().DecodeString(rest)
	return err == nil && len(key) == WebhookSecretBytes
}

// WebhookEndpoint is where a tenant is told about its events: a URL, the
// event types it wants (none named: all), and the secret deliveries are
// signed with.
type WebhookEndpoint struct {
	id        WebhookEndpointID
	tenant    TenantID
	url       string
	events    []EventType
	secret    string
	createdAt time.Time
}

// URLPolicy says which endpoint URLs are accepted.
type URLPolicy struct {
	// AllowPrivate accepts http URLs and hosts that are private, loopback
	// or link-local addresses (or "localhost"): for local development and
	// tests only, since otherwise a tenant could make creditd call into
	// its own network.
	AllowPrivate bool
}

// NewWebhookEndpoint validates a new endpoint. events may be empty (every
// type); a type named twice is kept once.
func NewWebhookEndpoint(id WebhookEndpointID, tenant TenantID, rawURL string, events []EventType, secret string,
	createdAt time.Time, policy URLPolicy) (*WebhookEndpoint, error) {
	u, err := CheckWebhookURL(rawURL, policy)
	if err != nil {
		return nil, err
	}
	var types []EventType
	for _, t := range events {
		if t.IsZero() {
			return nil, &InvalidFieldError{Field: "events", Reason: "must name known event types"}
		}
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	if !ValidWebhookSecret(secret) {
		return nil, fmt.Errorf("%w: a webhook secret must be whsec_ and base64 of %d bytes", ErrInvalidInput, WebhookSecretBytes)
	}
	return &WebhookEndpoint{id: id, tenant: tenant, url: u, events: types, secret: secret, createdAt: createdAt.UTC()}, nil
}

// CheckWebhookURL returns rawURL if it is an absolute https URL (http too
// under AllowPrivate) of at most MaxWebhookURLLength characters, without
// user info or fragment, whose host is not a private, loopback, link-local
// or otherwise non-public address unless the policy allows it. A host name
// is checked again, resolved, when a delivery connects.
func CheckWebhookURL(rawURL string, policy URLPolicy) (string, error) {
	bad := func(reason string) (string, error) { return "", &InvalidFieldError{Field: "url", Reason: reason} }
	if rawURL == "" {
		return bad("is required")
	}
	if len(rawURL) > MaxWebhookURLLength {
		return bad(fmt.Sprintf("must be at most %d characters", MaxWebhookURLLength))
	}
	u, err := url.Parse(rawURL)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return bad("must be an absolute URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && policy.AllowPrivate:
	default:
		return bad("must be an https URL")
	}
	if u.User != nil {
		return bad("must not carry a user name or password")
	}
	if u.Fragment != "" || strings.Contains(rawURL, "#") {
		return bad("must not have a fragment")
	}
	host := u.Hostname()
	if host == "" {
		return bad("must name a host")
	}
	if !policy.AllowPrivate {
		if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
			return bad("must not point at a private, loopback or link-local address")
		}
		if a, err := netip.ParseAddr(host); err == nil && !PublicAddr(a) {
			return bad("must not point at a private, loopback or link-local address")
		}
	}
	return rawURL, nil
}

// nonPublic are the address ranges, besides those netip classifies, that
// no tenant endpoint should reach: shared (CGNAT), "this network",
// benchmarking, IETF protocol assignments, documentation and reserved.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64: embeds an IPv4 address
	netip.MustParsePrefix("2001:db8::/32"),
}

// PublicAddr reports whether a is a public unicast address: not private,
// loopback, link-local, multicast, unspecified or reserved.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// RehydrateWebhookEndpoint rebuilds a stored endpoint, for adapters.
func RehydrateWebhookEndpoint(id WebhookEndpointID, tenant TenantID, rawURL string, events []EventType, secret string,
	createdAt time.Time) *WebhookEndpoint {
	return &WebhookEndpoint{id: id, tenant: tenant, url: rawURL, events: slices.Clone(events), secret: secret, createdAt: createdAt.UTC()}
}

func (e *WebhookEndpoint) ID() WebhookEndpointID { return e.id }
func (e *WebhookEndpoint) Tenant() TenantID      { return e.tenant }
func (e *WebhookEndpoint) URL() string           { return e.url }

// Events are the types the endpoint receives; empty: every type.
func (e *WebhookEndpoint) Events() []EventType { return slices.Clone(e.events) }

// Secret signs the endpoint's deliveries. Shown to the tenant once, at creation.
func (e *WebhookEndpoint) Secret() string       { return e.secret }
func (e *WebhookEndpoint) CreatedAt() time.Time { return e.createdAt }

// Receives reports whether the endpoint wants events of type t.
func (e *WebhookEndpoint) Receives(t EventType) bool {
	return len(e.events) == 0 || slices.Contains(e.events, t)
}

// DeliveryStatus is where a delivery of an event to an endpoint stands.
type DeliveryStatus struct{ slug string }

var (
	DeliveryPending   = DeliveryStatus{"pending"}
	DeliveryDelivered = DeliveryStatus{"delivered"}
	DeliveryFailed    = DeliveryStatus{"failed"}    // its retry window passed without a 2xx
	DeliveryCancelled = DeliveryStatus{"cancelled"} // its endpoint was deleted first
)

// DeliveryStatuses lists every delivery status.
var DeliveryStatuses = []DeliveryStatus{DeliveryPending, DeliveryDelivered, DeliveryFailed, DeliveryCancelled}

// DeliveryStatusFromString parses a delivery status.
func DeliveryStatusFromString(s string) (DeliveryStatus, error) {
	for _, st := range DeliveryStatuses {
		if st.slug == s {
			return st, nil
		}
	}
	return DeliveryStatus{}, fmt.Errorf("%w: unknown delivery status %q (known: pending, delivered, failed, cancelled)", ErrInvalidInput, s)
}

func (s DeliveryStatus) String() string { return s.slug }

// IsZero reports whether s is no status.
func (s DeliveryStatus) IsZero() bool { return s.slug == "" }
