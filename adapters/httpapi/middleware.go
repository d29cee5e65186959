package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-contrib/requestid"
	"github.com/gin-gonic/gin"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

const (
	// retryAfterSeconds is when a 503 tells clients to try again: soon, as a
	// restarted or failed-over database is back within seconds, and not at
	// once, so that clients do not hammer it while it comes up.
	retryAfterSeconds = "2"
	ctxPrincipal      = "creditd.principal"   // the domain.Principal authenticate resolved
	ctxProblemSlug    = "creditd.problemSlug" // the type of the problem answered, for the metrics
	headerRequestID   = "X-Request-ID"
	maxRequestIDChars = 128
	unmatchedRoute    = "unmatched" // route label for requests no route matched
)

// dropBadRequestID removes a client's X-Request-ID that is too long or not
// printable ASCII, so requestid generates one instead of echoing junk into
// logs and response headers.
func dropBadRequestID(c *gin.Context) {
	if id := c.GetHeader(headerRequestID); id != "" && (len(id) > maxRequestIDChars || !printableASCII(id)) {
		c.Request.Header.Del(headerRequestID)
	}
	c.Next()
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// accessLog writes one JSON log line and one metrics observation per request.
// It logs the route pattern, never the raw path or any header, so neither
// account ids nor API keys reach the logs. Probes and scrapes, which come
// every few seconds whatever the traffic, are logged at debug level.
func accessLog(log *slog.Logger, m *metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		elapsed := time.Since(start)
		labels := labelsOf(c)
		m.observe(labels, elapsed)

		level := slog.LevelInfo
		if quietRoutes[labels.route] {
			level = slog.LevelDebug
		}
		if !log.Enabled(c.Request.Context(), level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("method", labels.method),
			slog.String("route", labels.route),
			slog.Int("status", c.Writer.Status()),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.String("request_id", requestid.Get(c)),
		}
		if p, ok := c.Get(ctxPrincipal); ok {
			attrs = append(attrs, slog.String("tenant", p.(domain.Principal).TenantName.String()))
		}
		if labels.problem != "" {
			attrs = append(attrs, slog.String("problem", labels.problem))
		}
		if labels.replayed {
			attrs = append(attrs, slog.Bool("replayed", true))
		}
		log.LogAttrs(c.Request.Context(), level, "http request", attrs...)
	}
}

// quietRoutes are logged at debug level: liveness and readiness probes and
// metrics scrapes.
var quietRoutes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// recovery turns a panic into a problem+json 500 and logs it with its stack.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler { // the client is gone; let net/http handle it
				panic(rec)
			}
			log.ErrorContext(c.Request.Context(), "panic serving request",
				"request_id", requestid.Get(c), "route", c.FullPath(), "panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			if !c.Writer.Written() {
				p, _ := problemFor(errors.New("panic"), c.Request.URL.EscapedPath())
				writeProblem(c, p)
			}
			c.Abort()
		}()
		c.Next()
	}
}

// mapErrors renders the last error a handler recorded as a problem, through
// errorTable. Unmapped errors become a generic 500 whose cause is logged
// with the request id.
func mapErrors(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if len(c.Errors) == 0 || c.Writer.Written() {
			return
		}
		err := c.Errors.Last().Err
		p, known := problemFor(err, c.Request.URL.EscapedPath())
		if !known || p.Status >= http.StatusInternalServerError {
			log.ErrorContext(c.Request.Context(), "request failed",
				"request_id", requestid.Get(c), "route", c.FullPath(), "error", err.Error())
		}
		switch p.Status {
		case http.StatusUnauthorized:
			c.Header("WWW-Authenticate", `Bearer realm="creditd"`)
		case http.StatusRequestTimeout: // the rest of the body may still come: this connection is done
			c.Header("Connection", "close")
		case http.StatusServiceUnavailable:
			c.Header("Retry-After", retryAfterSeconds)
		}
		writeProblem(c, p)
	}
}

// unescapePathParams decodes the route's parameters as RFC 3986 path
// segments: only %XX is decoded and "+" stays a "+". (gin's own unescaping
// is a query's, which turns "+" into a space, so that "user+1@x.com" and
// "user 1@x.com" would name one account.) Every handler, and the idempotency
// fingerprint, reads the parameters decoded here.
func unescapePathParams(c *gin.Context) {
	var fe fieldErrors
	for i, p := range c.Params {
		v, err := url.PathUnescape(p.Value)
		if err != nil { // net/http refuses such a path before it gets here; kept as a guard
			fe.addf(p.Key, "is not a valid percent-encoded path segment")
			continue
		}
		c.Params[i].Value = v
	}
	if err := fe.err(); err != nil {
		abortWith(c, err)
		return
	}
	c.Next()
}

// limitBody caps request bodies at max bytes; a larger declared length is
// refused at once, a larger streamed body when the decoder reaches the cap.
func limitBody(max int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > max {
			abortWith(c, errRequestTooLarge)
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		c.Next()
	}
}

// authenticate resolves "Authorization: Bearer <key>" to a principal.
// Two Authorization fields are refused: a proxy in front may read the other.
func authenticate(keys *application.APIKeys) gin.HandlerFunc {
	return func(c *gin.Context) {
		fields := c.Request.Header.Values("Authorization")
		if len(fields) != 1 {
			abortWith(c, application.ErrUnauthenticated)
			return
		}
		scheme, secret, ok := strings.Cut(fields[0], " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
			abortWith(c, application.ErrUnauthenticated)
			return
		}
		secret = strings.TrimSpace(secret)
		p, err := keys.Authenticate(c.Request.Context(), secret)
		if err != nil {
			abortWith(c, err)
			return
		}
		c.Set(ctxPrincipal, p)
		c.Next()
	}
}

// requireScope refuses principals whose key lacks scope.
func requireScope(scope domain.Scope) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !principal(c).Can(scope) {
			abortWith(c, fmt.Errorf("%w: %s", errForbidden, scope))
			return
		}
		c.Next()
	}
}

// requireAnyScope admits a key with at least one of scopes.
func requireAnyScope(scopes ...domain.Scope) gin.HandlerFunc {
	names := make([]string, len(scopes))
	for i, s := range scopes {
		names[i] = s.String()
	}
	return func(c *gin.Context) {
		p := principal(c)
		for _, s := range scopes {
			if p.Can(s) {
				c.Next()
				return
			}
		}
		abortWith(c, fmt.Errorf("%w: one of %s", errForbidden, strings.Join(names, ", ")))
	}
}

func abortWith(c *gin.Context, err error) {
	_ = c.Error(err)
	c.Abort()
}
