package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// problemTypeBase prefixes every problem slug. Types are absolute URIs, as
// RFC 9457 recommends; clients branch on the whole string.
const problemTypeBase = "https://creditd.dev/problems/"

const (
	contentTypeJSON    = "application/json"
	contentTypeProblem = "application/problem+json"
)

// Errors raised by the HTTP adapter itself. They share the error table with
// the domain and application errors, so every failure is mapped in one place.
var (
	errMalformedBody         = errors.New("the request body is not a single JSON object")
	errRequestTooLarge       = errors.New("the request body is too large")
	errRequestTimeout        = errors.New("the request body did not arrive in time")
	errUnsupportedMediaType  = errors.New("the request body must be sent as Content-Type: application/json")
	errIdempotencyKeyMissing = errors.New("the Idempotency-Key header is required on every POST")
	errForbidden             = errors.New("the API key does not grant the scope this request needs")
	errRouteNotFound         = errors.New("no such route")
	errMethodNotAllowed      = errors.New("the route does not support this method")
	errNotReady              = errors.New("the service is not ready")
)

// problemKind is one row of the problem type list documented in openapi.yaml.
type problemKind struct {
	status int
	slug   string
	title  string
	// detail, when set, replaces the error text: for errors whose text may
	// carry internals (not found, internal) or could reveal another tenant's data.
	detail string
}

var kindInternal = problemKind{http.StatusInternalServerError, "internal", "Internal error",
	"The server could not complete the request. Quote the X-Request-ID response header when reporting it."}

var kindUnavailable = problemKind{http.StatusServiceUnavailable, "unavailable", "Service unavailable",
	"A dependency (the database, or PortOne) is unavailable or did not answer in time, so whether the request took effect is unknown. Retry after Retry-After seconds with the same Idempotency-Key: it then runs once, or its outcome is replayed."}

// errorTable is the one mapping from errors to HTTP problems, matched in
// order with errors.Is. Anything it does not match is kindInternal.
var errorTable = []struct {
	target error
	kind   problemKind
}{
	// First: an unavailable database is never the client's fault, whatever
	// else the error wraps, and its text names hosts.
	{application.ErrUnavailable, kindUnavailable},
	// The request's deadline passed (withDeadline) in a call that did not
	// say why: the database did not answer in time.
	{context.DeadlineExceeded, kindUnavailable},
	{domain.ErrInvalidInput, problemKind{http.StatusBadRequest, "validation-failed", "Validation failed", ""}},
	{application.ErrInvalidWebhook, problemKind{http.StatusBadRequest, "invalid-webhook", "Invalid webhook", ""}},
	{errInvalidCursor, problemKind{http.StatusBadRequest, "invalid-cursor", "Invalid cursor", ""}},
	{errMalformedBody, problemKind{http.StatusBadRequest, "malformed-request", "Malformed request", ""}},
	{errIdempotencyKeyMissing, problemKind{http.StatusBadRequest, "idempotency-key-missing", "Idempotency key missing", ""}},
	{application.ErrUnauthenticated, problemKind{http.StatusUnauthorized, "unauthorized", "Unauthorized", ""}},
	{errForbidden, problemKind{http.StatusForbidden, "forbidden", "Forbidden", ""}},
	{errSenderNotAllowed, problemKind{http.StatusForbidden, "forbidden", "Forbidden", ""}},
	{domain.ErrNotFound, problemKind{http.StatusNotFound, "not-found", "Not found",
		"No such account, hold, product, order, webhook endpoint or delivery for your tenant."}},
	{errRouteNotFound, problemKind{http.StatusNotFound, "not-found", "Not found", ""}},
	{errMethodNotAllowed, problemKind{http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed", ""}},
	{domain.ErrInsufficientCredits, problemKind{http.StatusConflict, "insufficient-credits", "Insufficient credits", ""}},
	{domain.ErrHoldNotCapturable, problemKind{http.StatusConflict, "hold-not-capturable", "Hold not capturable", ""}},
	{domain.ErrHoldNotReleasable, problemKind{http.StatusConflict, "hold-not-releasable", "Hold not releasable", ""}},
	{domain.ErrCaptureExceedsHold, problemKind{http.StatusConflict, "capture-exceeds-hold", "Capture exceeds hold", ""}},
	{domain.ErrHoldNotOpen, problemKind{http.StatusConflict, "hold-not-open", "Hold not open", ""}},
	{domain.ErrProductUnavailable, problemKind{http.StatusUnprocessableEntity, "product-unavailable", "Product unavailable", ""}},
	{application.ErrGatewayRefused, problemKind{http.StatusBadGateway, "payment-gateway-error", "Payment gateway error",
		"The payment gateway refused a request creditd made on your behalf; the operator should check creditd's PortOne settings. Nothing changed."}},
	{domain.ErrOrderNotRefundable, problemKind{http.StatusConflict, "order-not-refundable", "Order not refundable", ""}},
	{domain.ErrRefundInProgress, problemKind{http.StatusConflict, "refund-in-progress", "Refund in progress", ""}},
	{domain.ErrRefundExceedsRefundable, problemKind{http.StatusUnprocessableEntity, "refund-exceeds-refundable", "Refund exceeds the refundable amount", ""}},
	{domain.ErrRefundRefused, problemKind{http.StatusConflict, "refund-refused", "Refund refused", ""}},
	{domain.ErrGatewayNotConfigured, problemKind{http.StatusUnprocessableEntity, "gateway-not-configured", "Payment gateway not configured", ""}},
	{domain.ErrPaymentMismatch, problemKind{http.StatusUnprocessableEntity, "payment-mismatch", "Payment is not the order's", ""}},
	{domain.ErrNotReversible, problemKind{http.StatusConflict, "transaction-not-reversible", "Transaction not reversible", ""}},
	{domain.ErrReversalExceedsOriginal, problemKind{http.StatusUnprocessableEntity, "reversal-exceeds-original", "Reversal exceeds the original", ""}},
	{domain.ErrWebhookEndpointLimit, problemKind{http.StatusConflict, "webhook-endpoint-limit", "Too many webhook endpoints", ""}},
	{domain.ErrAlreadyExists, problemKind{http.StatusConflict, "already-exists", "Already exists", ""}},
	{errRequestTimeout, problemKind{http.StatusRequestTimeout, "request-timeout", "Request timeout", ""}},
	{errRequestTooLarge, problemKind{http.StatusRequestEntityTooLarge, "request-too-large", "Request too large", ""}},
	{errUnsupportedMediaType, problemKind{http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type", ""}},
	{domain.ErrBalanceLimit, problemKind{http.StatusUnprocessableEntity, "balance-limit", "Balance limit exceeded", ""}},
	{application.ErrIdempotencyKeyReused, problemKind{http.StatusUnprocessableEntity, "idempotency-key-reused", "Idempotency key reused", ""}},
	{errNotReady, problemKind{http.StatusServiceUnavailable, "not-ready", "Not ready", ""}},
}

// problemSlugs lists every problem type the API can answer with.
func problemSlugs() []string {
	seen := map[string]bool{kindInternal.slug: true}
	out := []string{kindInternal.slug}
	for _, row := range errorTable {
		if !seen[row.kind.slug] {
			seen[row.kind.slug] = true
			out = append(out, row.kind.slug)
		}
	}
	return out
}

// knownSlugs are the problem slugs the API answers with, a closed set.
var knownSlugs = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range problemSlugs() {
		m[s] = true
	}
	return m
}()

// slug is the problem's type without its base.
func (p problem) slug() string { return strings.TrimPrefix(p.Type, problemTypeBase) }

// storedProblemSlug reads the slug of a problem document this package
// encoded, as stored in a receipt; "" when body is not one.
func storedProblemSlug(body []byte) string {
	var p struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	return strings.TrimPrefix(p.Type, problemTypeBase)
}

// writeProblem answers with p, and notes its type for the metrics.
func writeProblem(c *gin.Context, p problem) {
	c.Set(ctxProblemSlug, p.slug())
	c.Data(p.Status, contentTypeProblem, p.encode())
}

// problem is an RFC 9457 problem details document. Its content depends only
// on the error and the request path, never on the request id or the time, so
// a stored rejection replays byte for byte.
type problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail"`
	Instance string       `json:"instance"`
	Errors   []fieldError `json:"errors,omitempty"`
	// Extension members of insufficient-credits.
	Requested string `json:"requested,omitempty"`
	Available string `json:"available,omitempty"`
}

// problemFor maps err through errorTable; known reports whether it matched.
func problemFor(err error, instance string) (p problem, known bool) {
	kind := kindInternal
	for _, row := range errorTable {
		if errors.Is(err, row.target) {
			kind, known = row.kind, true
			break
		}
	}
	p = problem{Type: problemTypeBase + kind.slug, Title: kind.title, Status: kind.status, Detail: kind.detail, Instance: instance}
	if p.Detail == "" {
		p.Detail = err.Error()
	}
	var verr *validationError
	var ferr *domain.InvalidFieldError
	switch {
	case errors.As(err, &verr):
		p.Errors = verr.fields
	case errors.As(err, &ferr): // a rule of the domain, about a field the request named
		p.Errors = []fieldError{{Field: ferr.Field, Message: ferr.Reason}}
	}
	var ierr *domain.InsufficientCreditsError
	if errors.As(err, &ierr) {
		p.Requested, p.Available = ierr.Requested.String(), ierr.Available.String()
	}
	return p, known
}

func (p problem) encode() []byte {
	b, err := json.Marshal(p)
	if err != nil { // a problem holds strings and ints only
		panic(fmt.Sprintf("httpapi: encode problem: %v", err))
	}
	return b
}

// fieldError says what is wrong with one field of a request.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// validationError carries per-field errors; it is a domain.ErrInvalidInput.
type validationError struct{ fields []fieldError }

func (e *validationError) Error() string {
	parts := make([]string, len(e.fields))
	for i, f := range e.fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

func (e *validationError) Unwrap() error { return domain.ErrInvalidInput }

// fieldErrors collects field errors while a request is converted.
type fieldErrors []fieldError

// add records err against field; the domain's "invalid input: " prefix is
// dropped because the problem type already says so.
func (fe *fieldErrors) add(field string, err error) {
	msg := strings.TrimPrefix(err.Error(), domain.ErrInvalidInput.Error()+": ")
	*fe = append(*fe, fieldError{Field: field, Message: msg})
}

func (fe *fieldErrors) addf(field, format string, args ...any) {
	*fe = append(*fe, fieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// err returns nil when nothing was collected.
func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	return &validationError{fields: fe}
}
