package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"
)

// bindJSON decodes the request body into dst strictly: one JSON object, no
// unknown fields, no trailing data, amounts as strings (the DTOs type them
// so). It stands in for gin's ShouldBindJSON, whose decoder accepts trailing
// data and switches unknown-field checks globally rather than per decoder.
func bindJSON(c *gin.Context, dst any) error {
	if err := requireJSONContentType(c.Request); err != nil {
		return err
	}
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	// Anything after the object, even a second object, makes the request ambiguous.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errRequestTooLarge
		}
		return fmt.Errorf("%w: unexpected data after the JSON object", errMalformedBody)
	}
	return nil
}

func requireJSONContentType(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != contentTypeJSON {
		return errUnsupportedMediaType
	}
	return nil
}

// decodeError turns encoding/json's errors into field errors where a field is
// to blame, and into a malformed-request problem otherwise.
func decodeError(err error) error {
	var (
		tooLarge *http.MaxBytesError
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return errRequestTooLarge
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: the body is empty", errMalformedBody)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: the body ends in the middle of the JSON", errMalformedBody)
	case errors.As(err, &syntax):
		return fmt.Errorf("%w: invalid JSON at byte %d", errMalformedBody, syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		var fe fieldErrors
		fe.addf(typ.Field, "expected %s, got a JSON %s", jsonKind(typ.Type), typ.Value)
		return fe.err()
	case errors.As(err, &typ):
		return fmt.Errorf("%w: the body must be a JSON object", errMalformedBody)
	}
	// encoding/json has no typed error for unknown fields; its message is stable.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		var fe fieldErrors
		fe.addf(strings.Trim(name, `"`), "is not a known field")
		return fe.err()
	}
	return fmt.Errorf("%w: %v", errMalformedBody, err)
}

// jsonKind names the JSON type a Go type decodes from, for error messages.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
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
	return "of another type"
}
