package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// strictJSON are the decoding options of every request body. They are the
// library's defaults except for unknown members, and are spelled out so that
// no change of default can relax them: a duplicate name would let
// {"amount":"1","amount":"1000"} mean whichever copy a reader picks, and a
// name in another case ("AMOUNT") would be read as a field it does not name.
var strictJSON = jsonv2.JoinOptions(
	jsonv2.RejectUnknownMembers(true),
	jsonv2.MatchCaseInsensitiveNames(false),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
)

// decoders are reused: a new one allocates buffers that made it the
// largest allocation per request.
var decoders = sync.Pool{New: func() any { return jsontext.NewDecoder(eof{}) }}

// eof is an empty reader, for decoders at rest.
type eof struct{}

func (eof) Read([]byte) (int, error) { return 0, io.EOF }

// bindJSON decodes the request body into dst strictly: one JSON object in
// UTF-8, no unknown, duplicate or differently cased member names, no
// trailing data, amounts as strings (the DTOs type them so). It is the one
// place request bodies are decoded. It uses encoding/json/v2's API (from
// github.com/go-json-experiment/json, which Go 1.26 ships only behind
// GOEXPERIMENT=jsonv2), whose decoder refuses duplicate names and matches
// names case-sensitively; encoding/json, and so gin's ShouldBindJSON, does
// neither.
//
// An empty body (or none) is {} when dst's type says its body is optional
// (optionalBody), whatever the Content-Type; otherwise it is refused.
func bindJSON(c *gin.Context, dst any) error {
	empty, err := bodyIsEmpty(c.Request)
	if err != nil {
		return decodeError(err)
	}
	if empty {
		if _, ok := dst.(optionalBody); ok {
			return nil
		}
		return fmt.Errorf("%w: the body is empty", errMalformedBody)
	}
	if err := requireJSONContentType(c.Request); err != nil {
		return err
	}
	dec := decoders.Get().(*jsontext.Decoder)
	dec.Reset(c.Request.Body, strictJSON)
	defer func() { dec.Reset(eof{}); decoders.Put(dec) }() // drop the body, keep the buffers
	if dec.PeekKind() != '{' {                             // null would decode into anything as a no-op
		if _, err := dec.ReadValue(); err != nil {
			return decodeError(err)
		}
		return fmt.Errorf("%w: the body must be a JSON object", errMalformedBody)
	}
	if err := jsonv2.UnmarshalDecode(dec, dst, strictJSON); err != nil {
		return decodeError(err)
	}
	// Anything after the object, even a second object, makes the request ambiguous.
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		if err := decodeError(err); errors.Is(err, errRequestTooLarge) || errors.Is(err, errRequestTimeout) {
			return err
		}
		return fmt.Errorf("%w: unexpected data after the JSON object", errMalformedBody)
	}
	return nil
}

// optionalBody is implemented by the request DTO of an endpoint whose body
// may be left out: one whose fields all have defaults.
type optionalBody interface{ bodyIsOptional() }

// bodyIsEmpty says whether the request has no body bytes. A body of unknown
// length (chunked) is peeked at, and the byte read is put back.
func bodyIsEmpty(r *http.Request) (bool, error) {
	switch {
	case r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0:
		return true, nil
	case r.ContentLength > 0:
		return false, nil
	}
	var first [1]byte
	n, err := io.ReadFull(r.Body, first[:])
	if n == 0 {
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		return false, err
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(first[:n]), r.Body), r.Body}
	return false, nil
}

func requireJSONContentType(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != contentTypeJSON {
		return errUnsupportedMediaType
	}
	return nil
}

// decodeError turns the decoder's errors into field errors where a member is
// to blame, and into a malformed-request problem otherwise.
func decodeError(err error) error {
	var (
		tooLarge *http.MaxBytesError
		syntax   *jsontext.SyntacticError
		semantic *jsonv2.SemanticError
	)
	switch {
	case errors.As(err, &tooLarge):
		return errRequestTooLarge
	case errors.Is(err, os.ErrDeadlineExceeded): // the server's read timeout passed mid-body
		return errRequestTimeout
	case errors.As(err, &syntax) && errors.Is(syntax.Err, jsontext.ErrDuplicateName):
		var fe fieldErrors
		fe.addf(fieldPath(syntax.JSONPointer), "appears more than once")
		return fe.err()
	case errors.As(err, &syntax) && syntax.ByteOffset == 0 && errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: the body is empty", errMalformedBody)
	case errors.As(err, &syntax) && errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: the body ends in the middle of the JSON", errMalformedBody)
	case errors.As(err, &syntax):
		return fmt.Errorf("%w: invalid JSON at byte %d: %v", errMalformedBody, syntax.ByteOffset, syntax.Err)
	case errors.As(err, &semantic) && semantic.JSONPointer == "":
		return fmt.Errorf("%w: the body must be a JSON object", errMalformedBody)
	case errors.As(err, &semantic) && errors.Is(semantic.Err, jsonv2.ErrUnknownName):
		var fe fieldErrors
		fe.addf(fieldPath(semantic.JSONPointer), "is not a known field (names are case-sensitive)")
		return fe.err()
	case errors.As(err, &semantic):
		var fe fieldErrors
		fe.addf(fieldPath(semantic.JSONPointer), "expected %s, got a JSON %s", jsonKind(semantic.GoType), kindName(semantic.JSONKind))
		return fe.err()
	}
	return fmt.Errorf("%w: %v", errMalformedBody, err)
}

// fieldPath names the member a JSON pointer points at, as "metadata.k".
func fieldPath(p jsontext.Pointer) string {
	var parts []string
	for tok := range p.Tokens() {
		parts = append(parts, tok)
	}
	return strings.Join(parts, ".")
}

// jsonKind names the JSON type a Go type decodes from, for error messages.
func jsonKind(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Bool:
		return "a boolean"
	}
	return "another type"
}

// kindName names a JSON value's kind for error messages.
func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}
