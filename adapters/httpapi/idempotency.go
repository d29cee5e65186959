package httpapi

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/creditd/creditd/application"
)

const (
	headerIdempotencyKey      = "Idempotency-Key"
	headerIdempotentReplayed  = "Idempotent-Replayed"
	maxIdempotencyKeyLength   = 255
	ctxIdempotencyKey         = "creditd.idempotencyKey"
	idempotencyFingerprintTag = "creditd/httpapi/v1" // change it when the fingerprint's recipe changes
)

// requireIdempotencyKey refuses a POST without a usable Idempotency-Key:
// 1 to 255 printable ASCII characters, sent once.
func requireIdempotencyKey(c *gin.Context) {
	keys := c.Request.Header.Values(headerIdempotencyKey)
	if len(keys) == 0 || keys[0] == "" {
		abortWith(c, errIdempotencyKeyMissing)
		return
	}
	if len(keys) > 1 {
		var fe fieldErrors
		fe.addf(headerIdempotencyKey, "must be sent once")
		abortWith(c, fe.err())
		return
	}
	key := keys[0]
	if !validIdempotencyKey(key) {
		var fe fieldErrors
		fe.addf(headerIdempotencyKey, "must be 1 to %d printable ASCII characters", maxIdempotencyKeyLength)
		abortWith(c, fe.err())
		return
	}
	c.Set(ctxIdempotencyKey, key)
	c.Next()
}

func validIdempotencyKey(key string) bool {
	if len(key) == 0 || len(key) > maxIdempotencyKeyLength {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// fingerprint identifies a request for idempotency: SHA-256 over the method,
// the route pattern, the unescaped path parameters and the body re-encoded
// from its decoded DTO. Re-encoding (rather than hashing the raw bytes) makes
// white space, key order and escapes irrelevant, and it runs only after the
// body has been validated, so no other normalisation is needed. Each part is
// length-prefixed so that no two different requests hash the same bytes.
func fingerprint(c *gin.Context, body any) ([]byte, error) {
	canonical, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("fingerprint request: %w", err)
	}
	h := sha256.New()
	write := func(s []byte) {
		_ = binary.Write(h, binary.BigEndian, uint64(len(s)))
		h.Write(s)
	}
	write([]byte(idempotencyFingerprintTag))
	write([]byte(c.Request.Method))
	write([]byte(c.FullPath()))
	for _, p := range c.Params {
		write([]byte(p.Key))
		write([]byte(p.Value))
	}
	write(canonical)
	return h.Sum(nil), nil
}

// idempotent builds the application's idempotency request for one POST.
// render maps a success to its response DTO; rejections render as problems.
func idempotent[T any](c *gin.Context, body any, status int, render func(T) any) (*application.Idempotency[T], error) {
	fp, err := fingerprint(c, body)
	if err != nil {
		return nil, err
	}
	instance := c.Request.URL.EscapedPath()
	idem := &application.Idempotency[T]{
		Key:         c.GetString(ctxIdempotencyKey),
		Fingerprint: fp,
		Encode: func(result T, rejection error) (application.Receipt, error) {
			var r application.Receipt
			if rejection != nil {
				p, _ := problemFor(rejection, instance)
				r = application.Receipt{Status: p.Status, Body: p.encode()}
			} else {
				b, err := json.Marshal(render(result))
				if err != nil {
					return application.Receipt{}, fmt.Errorf("encode response: %w", err)
				}
				r = application.Receipt{Status: status, Body: b}
			}
			return r, nil
		},
	}
	return idem, nil
}

// writeReceipt answers with a stored or fresh outcome. Receipts keep only a
// status and a body, so the content type follows from the status.
func writeReceipt(c *gin.Context, r *application.Receipt) {
	ct := contentTypeJSON
	if r.Status >= http.StatusBadRequest {
		ct = contentTypeProblem
		c.Set(ctxProblemSlug, storedProblemSlug(r.Body))
	}
	if r.Replayed {
		c.Header(headerIdempotentReplayed, "true")
	}
	c.Data(r.Status, ct, r.Body)
}
