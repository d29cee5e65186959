package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
)

// errInvalidCursor: a cursor that this API did not make for this listing.
var errInvalidCursor = errors.New("the cursor is not one this API returned for this listing: it was made for another account, tenant or set of filters, or was altered; start again without a cursor")

// Cursors are base64url of a position (the last row's key) followed by a
// tag: the first cursorTagSize bytes of SHA-256 over the listing's kind,
// its scope (tenant, account, filters) and the position. A cursor used on
// another listing, or with other filters, or altered, fails the tag check
// and is refused with invalid-cursor rather than silently paging through
// something else. The tag is a checksum, not a secret: cursors need no key,
// so every replica reads every other's across restarts, and a forged cursor
// only names a position inside data the caller may read anyway.
const cursorTagSize = 12

// cursorVersion changes when the encoding does, so old cursors fail the tag.
const cursorVersion = "creditd-cursor-v1"

// Listing kinds, each with a scope of its own.
const (
	cursorAccounts = "accounts"
	cursorHistory  = "history"
	cursorHolds    = "holds"
	cursorLots     = "lots"
)

// cursorScope joins the parts that name one listing. NUL separates them:
// account ids, filters and tenant ids are printable, so no two scopes join alike.
func cursorScope(parts ...string) string { return strings.Join(parts, "\x00") }

func cursorTag(kind, scope string, position []byte) []byte {
	h := sha256.New()
	h.Write([]byte(cursorVersion + "\x00" + kind + "\x00" + scope + "\x00"))
	h.Write(position)
	return h.Sum(nil)[:cursorTagSize]
}

// sealCursor makes the cursor of a position in a listing.
func sealCursor(kind, scope string, position []byte) string {
	return base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), position...), cursorTag(kind, scope, position)...))
}

// openCursor returns the position a cursor holds, or errInvalidCursor when
// it was not made by sealCursor for this kind and scope.
func openCursor(kind, scope, cursor string) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil || len(b) <= cursorTagSize {
		return nil, errInvalidCursor
	}
	position, tag := b[:len(b)-cursorTagSize], b[len(b)-cursorTagSize:]
	if subtle.ConstantTimeCompare(tag, cursorTag(kind, scope, position)) != 1 {
		return nil, errInvalidCursor
	}
	return position, nil
}
